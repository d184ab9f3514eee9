"""Semi-supervised methods: a registry (one file each) and the step loop that feeds them."""
