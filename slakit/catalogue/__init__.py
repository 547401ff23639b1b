"""The catalogue: facts every layer of slakit reads and none writes, each defined once.

`metrics` every metric and label name slakit reads or exports (vLLM's, the gateway's, the
exporters'), `thresholds` the numbers that judge (KV cache full, GPU temperature, late),
`defaults` the embedded stack's model, index, corpus and ports, `panels` the component
dashboards as data. Nothing here imports the rest of slakit, so anything may import it.
"""
