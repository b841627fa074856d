"""First pass without enrollment: speech activity, windowed speaker embeddings, clustering, and an
enrollment region for every speaker found (``pipeline.FirstPass``)."""
