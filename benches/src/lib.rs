//! Benchmarks for rediscover (see docs/performance.md).
