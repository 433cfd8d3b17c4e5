"""What stands in for AWS when there is no account: the emulator (moto in server mode) with one
module per gap fix, the local SageMaker endpoint host, and local SageMaker training jobs.

The workflow (`dogops.train`, `dogops.deploy`, ...) talks to these only through AWS APIs or the
`Backend`, exactly as it talks to AWS on `--target aws`.
"""
