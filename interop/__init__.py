"""interop: gskill's tasks, runs and traces in the formats other tools read (SWE-bench, Harbor,
Hugging Face datasets, OpenTelemetry)."""
