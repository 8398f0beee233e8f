"""GMNS placeholder (replaced below)."""
def read_gmns(*a, **k): raise NotImplementedError
def read_gmns_demand(*a, **k): raise NotImplementedError
def write_gmns(*a, **k): raise NotImplementedError
