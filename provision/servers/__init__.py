"""One module per server: install(), start(run_dir, port), stop(run_dir), status(run_dir)."""
