"""fastprop's benchmarks: the workloads of WORKLOADS.md, fastprop and its peers (NumPy,
PyTorch, JAX, scikit-learn) behind one interface. See bench/README.md."""
