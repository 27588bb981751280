"""Benchmarks: throughput and overhead measurements (ratios in one run)."""
