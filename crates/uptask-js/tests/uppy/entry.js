// Uppy itself, as a page uses it: @uppy/core with @uppy/aws-s3 pointed at a signer that speaks
// Companion's S3 routes. Bundled by tests/uppy.py (esbuild) and called from its page.
import Uppy from '@uppy/core';
import AwsS3 from '@uppy/aws-s3';

// Uploads `file` through `companionEndpoint` in parts of `partSize` (or, when `multipart` is
// false, in Uppy's one POST form); resolves with where Uppy says the object went and how many
// progress events it gave.
const upload = (companionEndpoint, file, partSize, multipart) =>
  new Promise((resolve, reject) => {
    const uppy = new Uppy({ autoProceed: false });
    uppy.use(AwsS3, {
      companionEndpoint,
      shouldUseMultipart: multipart,
      getChunkSize: () => partSize,
    });
    uppy.addFile({ name: file.name, type: 'application/octet-stream', data: file, meta: { album: 'uppy' } });
    let progress = 0;
    let last = 0;
    uppy.on('upload-progress', (_file, p) => {
      progress += 1;
      last = p.bytesUploaded;
    });
    uppy.on('upload-error', (_file, err) => reject(new Error(`Uppy: ${err && err.message}`)));
    uppy.upload().then((result) => {
      const done = result && result.successful && result.successful[0];
      if (!done) {
        reject(new Error(`Uppy finished without a success: ${JSON.stringify(result && result.failed)}`));
        return;
      }
      resolve({ key: done.response.body.key, location: done.uploadURL, progress, last });
    }, reject);
  });

// `size` bytes (i % 251) as a page File, in parts of 5 MiB.
window.uppyUpload = (companionEndpoint, name, size, multipart) => {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = i % 251;
  return upload(companionEndpoint, new File([bytes], name), 5 << 20, multipart);
};

// A File the page already holds, in parts of `partSize` (the benchmark's).
window.uppyUploadFile = (companionEndpoint, file, partSize) => upload(companionEndpoint, file, partSize, true);
