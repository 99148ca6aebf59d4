"""Ready pipelines for the classic jobs, one module (or package) per job; each registers its CLI commands."""
