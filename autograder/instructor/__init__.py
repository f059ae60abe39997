"""The instructor's tools for a whole class: batch grading (local or on a Dask cluster), similarity,
rosters, collection from an LMS and the grade files it imports, and the course's remembered settings."""
