"""Building blocks of the TS-DIA stacks: attention kernels, feed-forward, norms, the block."""
