"""Frame losses (cross-entropy, focal, BCE, MSE, MAE) and auxiliary terms for TS-DIA."""
