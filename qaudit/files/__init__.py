"""Files in and out: model files, data sets, pre-processing, checkpoints, bounded readers, imports."""
