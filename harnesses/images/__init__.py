"""Environment images: an offline base image and per-repo images with install + test dependencies."""
