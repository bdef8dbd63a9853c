"""The Legal Centre staff interface (issue 3) and, as a sub-package, the offline workstation."""
