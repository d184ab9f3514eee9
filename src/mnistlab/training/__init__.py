"""Training: the epoch bookkeeper (engine), the solo and stacked (vmapped) trainers, the optimizer."""
