"""The fused CPU kernels of the CNN (C source + ctypes loader), built once into a private cache."""
