def pytest_configure(config):
    config.addinivalue_line("markers", "multiprocess: spawns training processes (DDP, SIGKILL); short, runs in CI")
