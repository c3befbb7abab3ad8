"""Pipeline steps (datatrove `PipelineStep` contract: `run(data, rank, world_size)`)."""
