"""ESPnet tasks of espnet2_tsdia (import ``espnet2_tsdia.tasks.tsdia`` to register them)."""
