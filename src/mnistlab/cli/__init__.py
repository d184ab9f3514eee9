"""The command line: `mnistlab data | run | sweep | summarize | explain | report`."""
