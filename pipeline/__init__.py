"""What a person runs on their machine: the local cloud, workloads and reports."""
