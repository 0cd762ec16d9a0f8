"""Running the job: the job runner, holds, the run lock, settings, exit statuses."""
