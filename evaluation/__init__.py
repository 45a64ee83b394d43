"""Impact estimation: panels in, one frozen ``Estimate`` out. Knows nothing of MLflow or the app."""
