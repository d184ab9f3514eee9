"""mnistlab's own semi-supervised methods, one module each; each registers itself when its folder is loaded."""
