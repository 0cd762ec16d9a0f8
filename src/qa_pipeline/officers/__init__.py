"""What data officers read and do: exceptions, worklists, report, data checks."""
