"""Turn layer sizes into the offsets table that cuts the flat buffers into layers.

Parameters: layer l's weights W_l (n_in, n_out, row-major) then its bias b_l (n_out,)
follow layer l-1's in one flat array, so the optimizer is one loop over it.

Workspace (Z, A, E): one flat buffer each, cut into regions of `capacity` rows; region
0 holds the batch input X (in A), region l+1 the batch rows of layer l. A batch of B <=
capacity rows of width w occupies the first B*w entries of its region, row-major.
"""
import numpy as np

# Columns of the layout table (one row per layer).
N_IN = 0      # width of the layer's input
N_OUT = 1     # width of the layer's output
W_OFF = 2     # offset of W_l (n_in, n_out) in the parameter buffer
B_OFF = 3     # offset of b_l (n_out,) in the parameter buffer
IN_UNIT = 4   # sum of the widths before the input region; times capacity = its offset
OUT_UNIT = 5  # the same for the layer's output region
LAYOUT_COLUMNS = 6


def make_layout(sizes):
    """Offsets table (n_layers, LAYOUT_COLUMNS) int64 for layer widths `sizes`."""
    n_layers = len(sizes) - 1
    layout = np.zeros((n_layers, LAYOUT_COLUMNS), dtype=np.int64)
    param_off = 0
    unit = 0
    for l in range(n_layers):
        n_in, n_out = int(sizes[l]), int(sizes[l + 1])
        layout[l] = (n_in, n_out, param_off, param_off + n_in * n_out, unit, unit + n_in)
        param_off += n_in * n_out + n_out
        unit += n_in
    return layout


def param_count(layout):
    """Number of parameters described by a layout table."""
    last = layout[-1]
    return int(last[B_OFF] + last[N_OUT])


def count_params(sizes):
    """param_count of make_layout(sizes), in Python integers: no overflow and no table,
    for sizes not yet checked against memory (Model, load)."""
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


def workspace_width(layout):
    """Sum of every region's width: input, hidden layers and output."""
    return int(layout[-1][OUT_UNIT] + layout[-1][N_OUT])


def layer_views(flat, layout):
    """Per-layer views (weights list, biases list) into a flat parameter-shaped array."""
    weights, biases = [], []
    for n_in, n_out, w_off, b_off, _, _ in layout:
        weights.append(flat[w_off:w_off + n_in * n_out].reshape(n_in, n_out))
        biases.append(flat[b_off:b_off + n_out])
    return weights, biases
