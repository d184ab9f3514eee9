"""mnistlab's own selection rules, one module each; each registers itself when its folder is loaded."""
