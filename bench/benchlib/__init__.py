# bench/run's modules: common, resp, cluster, processes, workloads, report.
