"""The model of the course, which every other folder may read: the curriculum, settings, the hidden
problems and the trusted references, a submission as read, the report, and the formats and
neutralisers that both sides of the trust boundary share. Imports nothing else of the package."""
