"""What the row-at-a-time trainers (rowwise.py, narrow.py) read from a Net, taken
apart once per call so that their step loops pass no Net around (a Net passed to a
compiled call is copied onto the stack: ~130 words)."""
from ..layout import B_OFF, IN_UNIT, N_IN, N_OUT, OUT_UNIT, W_OFF
from .jit import inlined


@inlined
def trainer_fields(net):
    """The Net's fields a trainer's step loop uses: params, grads, layout, act, Z, A,
    E, the target buffer T, the capacity C and the loss code."""
    return (net.params, net.grads, net.layout, net.act, net.Z, net.A, net.E, net.Y,
            net.capacity, net.loss)


@inlined
def layer_geometry(layout, l, C):
    """Layer l's widths, parameter offsets, and output and input region offsets in a
    workspace of C rows."""
    return (layout[l, N_IN], layout[l, N_OUT], layout[l, W_OFF], layout[l, B_OFF],
            C * layout[l, OUT_UNIT], C * layout[l, IN_UNIT])
