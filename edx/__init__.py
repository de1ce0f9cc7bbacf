"""edX and Open edX tracking logs, imported into the same store as Footfall's own events (`edx_events`).

- `events`: one line of a tracking log → one normalised document (or the reason it cannot be one);
- `files`: which files a command names, read as lines, streamed (gzip too), whatever their size;
- `importer`: lines → the store in batches, bad lines to dead letters, a ledger entry per file.
"""
