from .profiling import (build_offline, compare_latency, get_complexity,
                        load_config, num_threads, strip_external)
from .stock_tools import run_stock_tool, stock_tool_path

__all__ = [
    'get_complexity', 'compare_latency', 'num_threads', 'run_stock_tool',
    'stock_tool_path', 'build_offline', 'load_config', 'strip_external'
]
