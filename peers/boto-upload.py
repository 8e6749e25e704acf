"""boto3's upload_file, for the S3 benchmark: FILE ENDPOINT BUCKET KEY PART_SIZE CONCURRENCY.

Credentials come from the AWS_* environment. Prints {"ms": N}: the time upload_file itself
took, without the interpreter's start and imports.
"""

import json
import sys
import time

import boto3
from boto3.s3.transfer import TransferConfig

path, endpoint, bucket, key, part, concurrency = sys.argv[1:7]
client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
config = TransferConfig(
    multipart_threshold=int(part),
    multipart_chunksize=int(part),
    max_concurrency=int(concurrency),
)
started = time.monotonic()
client.upload_file(path, bucket, key, Config=config)
print(json.dumps({"ms": (time.monotonic() - started) * 1000}))
