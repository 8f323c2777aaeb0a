"""Every tunable of fastprop in one place. Each is a size threshold or a time; none
changes results except where said (the tile sizes fix the bits of multi-threaded
training, so changing them changes a multi-threaded run's bits, the same for every
thread count). Read at the start of each fit; the kernels' own constants (below, marked
compile-time) are read when Numba compiles them, so set those before the first fit
of a process and with an empty cache.
"""

# Training loop (training.py)
CHUNK_SECONDS = 0.2      # compiled work between returns to Python (Ctrl-C, progress bar)
COMPILE_NOTICE = True    # a line on stderr while a first fit compiles (compile_notice.py)
COMPILE_NOTICE_SECONDS = 2.0   # ... when its first compiled call takes longer than this
PROBE_MAX = 16           # calls between measurements of the other thread count (thread_choice.py)
PROBE_BUDGET = 0.03      # the most of a fit's time those measurements may take

# Products (net.py): layers with rows * n_in * n_out >= this use BLAS, smaller use
# explicit loops (a BLAS call's fixed cost, ~0.1-1 us, dominates below)
BLAS_MIN = 16384

# Threads (training.py): a step shares its tiles among threads only when a batch's
# forward pass does at least this many multiply-adds (sum over layers of
# rows * n_in * n_out); smaller steps train on one thread, where the threads' start-up
# and waits at each parallel loop's end would cost more than they gain
PARALLEL_MIN_WORK = 2_000_000

# Tile plan (tiles.py): block sizes of the products of a multi-threaded step
TILE_ROWS = 128          # batch rows per forward / error tile, when cut by rows
OUTPUT_ROWS = 32         # batch rows per output-layer tile
TILE_COLS = 128          # columns per tile, when cut by columns
DW_TILE = 128            # rows of dW per gradient tile
MAX_SPLIT = 8            # blocks per dimension at most
MIN_TILE_WORK = 1 << 19  # multiply-adds a tile keeps at least (~2.5 us on one core)
ALIGN = 16               # block sizes are multiples of this (64 bytes of float32)

# Model (model.py): workspace rows made at construction; larger batches grow it
DEFAULT_CAPACITY = 256

# One-thread bit checks kept per process (tile_bits.py)
MAX_BIT_ANSWERS = 256
