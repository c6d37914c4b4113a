from ..benchmarking.timing import compare_latency, num_threads
from .profiling import (build_offline, get_complexity, load_config,
                        strip_external)
from .stock_tools import run_stock_tool, stock_tool_path

# compare_latency and num_threads live in mmpose_light.benchmarking; they
# stay importable from here for the tools that import them from here.
__all__ = [
    'get_complexity', 'compare_latency', 'num_threads', 'run_stock_tool',
    'stock_tool_path', 'build_offline', 'load_config', 'strip_external'
]
