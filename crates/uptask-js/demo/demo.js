// The demo page's code: what an application writes around uploadFile.
import init, { uploadFile } from '../pkg/uptask_js.js';

const $ = (id) => document.getElementById(id);
let task = null;

await init();
$('file').addEventListener('change', () => {
  $('upload').disabled = $('file').files.length === 0;
});

$('upload').addEventListener('click', async () => {
  $('result').textContent = '';
  $('headers').textContent = '';
  $('abort').disabled = false;
  $('upload').disabled = true;
  task = uploadFile({
    url: $('url').value,
    file: $('file').files[0],
    name: 'file',
    formData: { from: 'uptask demo' },
    protocol: $('tus').checked ? 'tus' : 'multipart',
    withCredentials: false,
  });
  task
    .progress((p) => {
      $('bar').value = p.progress;
      $('sent').textContent = `${p.totalBytesSent} / ${p.totalBytesExpectedToSend} bytes (${p.progress}%)`;
    })
    .headersReceived(({ header }) => {
      $('headers').textContent = JSON.stringify(header, null, 2);
    });
  try {
    const res = await task;
    $('result').textContent = `${res.errMsg}, HTTP ${res.statusCode}\n${res.data}`;
  } catch (err) {
    $('result').textContent = err.errMsg;
  } finally {
    $('abort').disabled = true;
    $('upload').disabled = false;
  }
});

$('abort').addEventListener('click', () => task?.abort());
