import { bytes, count, stepLabel } from './format.js';

/**
 * The overview page's script, served as /ui/dashboard.js. Kept as a string in a TypeScript module
 * so that `tsc` puts it in dist/ and the Docker image with the rest (tsx would wrap a function's
 * source in helpers of its own, so the text is written out). Plain ES2020, no template literals;
 * count and bytes are format.ts's own functions, their source put in (Function.prototype.toString),
 * so the pages and the script write numbers alike.
 *
 * What it adds to the page (which works without it: the Run ETL form posts to /data):
 * - Run ETL without leaving the page: POST /data (with the three chosen or dropped files as
 *   multipart/form-data, sent with XMLHttpRequest for its upload progress), and meanwhile find the new run in GET /runs and
 *   poll GET /runs/:id for its step and each file's rows and bytes; then say how it ended (the
 *   run's numbers, the 409 "another run is in progress", the 422 message as the service wrote it)
 *   and refresh the runs table and the summary from the server's own rendering of the page.
 * - Follow a run started elsewhere (curl, another tab) that is running when the page loads or that
 *   a click ran into (409), and say how it ended.
 * - An API token (API_TOKEN) kept in sessionStorage for this tab and sent as a Bearer token.
 *
 * Text from the service is only ever set as textContent, never parsed as HTML; the refreshed
 * sections are parsed from the server's own rendering, in which JSX has escaped every value.
 */
export const CLIENT_SCRIPT = String.raw`'use strict';
(function () {
  var form = document.getElementById('run-form');
  if (!form) return;
  var message = document.getElementById('run-message');
  var progress = document.getElementById('run-progress');
  var uploadForm = document.getElementById('upload-form');
  var uploadProgress = document.getElementById('upload-progress');
  var dropZone = document.getElementById('drop-zone');
  var tokenBox = document.getElementById('token-box');
  var tokenInput = document.getElementById('token');
  var tokenState = document.getElementById('token-state');
  var TOKEN_KEY = 'lab-etl-api-token';
  var POLL_MS = 500;

  var pending = 0; // POST /data requests of this page not answered yet
  var watching = null; // the run whose progress is shown
  var announce = false; // whether to say how the watched run ended (a run this page did not start)

  function sleep(ms) { return new Promise(function (resolve) { setTimeout(resolve, ms); }); }

  function token() {
    try { return sessionStorage.getItem(TOKEN_KEY) || ''; } catch (e) { return ''; }
  }
  function headers() {
    var t = token();
    return t ? { Authorization: 'Bearer ' + t } : {};
  }
  function showTokenState() {
    tokenState.textContent = token() ? 'A token is set for this tab.' : 'No token set.';
  }

  function element(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (className) node.className = className;
    return node;
  }

  // kind: succeeded, failed, warning or empty. link: optional {href, text} after the text.
  function say(text, kind, link) {
    var parts = [document.createTextNode(text)];
    if (link) {
      var a = element('a', link.text);
      a.href = link.href;
      parts.push(document.createTextNode(' '), a);
    }
    message.replaceChildren(...parts);
    message.className = 'message' + (kind ? ' message-' + kind : '');
  }

  ${count.toString()}
  ${bytes.toString()}
  ${stepLabel.toString()}
  function seconds(ms) { return ms < 1000 ? ms + ' ms' : (ms / 1000).toFixed(1) + ' s'; }

  async function getJson(url) {
    var response = await fetch(url, { headers: headers(), cache: 'no-store' });
    if (!response.ok) throw new Error('HTTP ' + response.status);
    return response.json();
  }

  function showProgress(run) {
    if (!run) {
      progress.hidden = true;
      progress.replaceChildren();
      return;
    }
    var title = element('p', 'Run ' + run.run_id + ' is running: ' + stepLabel(run.step), 'progress-step');
    var bar = element('progress');
    bar.setAttribute('aria-label', 'Run ' + run.run_id + ' in progress');
    var list = element('ul', undefined, 'progress-files');
    Object.keys(run.files).forEach(function (file) {
      var f = run.files[file];
      list.append(element('li', file + ': ' + count(f.rows_read) + ' rows read (' + bytes(f.bytes) + ')'));
    });
    progress.replaceChildren(title, bar, list);
    progress.hidden = false;
  }

  function runLink(id) { return { href: '/ui/runs/' + id, text: 'Details of run ' + id }; }

  function describe(run) {
    var files = Object.keys(run.files).map(function (k) { return run.files[k]; });
    var rejected = files.reduce(function (sum, f) { return sum + (f.rows_rejected || 0); }, 0);
    return 'Run ' + run.run_id + ' succeeded in ' + seconds(run.duration_ms) + ': ' + count(run.features.users) + ' users, ' +
      count(run.features.experiments) + ' experiments, ' + count(rejected) + (rejected === 1 ? ' row' : ' rows') + ' rejected.' +
      (run.warnings.length > 0 ? ' Warnings: ' + run.warnings.map(function (w) { return w.message; }).join(' ') : '');
  }

  // A run that succeeded with warnings is shown as a warning, not as a plain success.
  function succeeded(run) { return run.warnings.length > 0 ? 'warning' : 'succeeded'; }

  function report(run) {
    if (run.status === 'succeeded') say(describe(run), succeeded(run), runLink(run.run_id));
    else say('Run ' + run.run_id + ' failed: ' + (run.error || 'no reason recorded'), 'failed', runLink(run.run_id));
  }

  // The runs table and the summary as the server renders them now. Refreshes can overlap (one when
  // a run is found, one when it ends): only the latest asked for is shown, never an older answer
  // arriving last.
  var refreshes = 0;
  async function refresh() {
    var mine = ++refreshes;
    try {
      var response = await fetch('/', { headers: headers(), cache: 'no-store' });
      if (!response.ok) return;
      var text = await response.text();
      if (mine !== refreshes) return;
      var fresh = new DOMParser().parseFromString(text, 'text/html');
      ['runs', 'summary', 'pictures'].forEach(function (id) {
        var now = document.getElementById(id);
        var next = fresh.getElementById(id);
        if (now && next) now.replaceWith(document.adoptNode(next));
      });
    } catch (e) {
      // The next visit shows them; the message already said how the run ended.
    }
  }

  async function follow(runId, announceEnd) {
    if (watching === runId) return;
    watching = runId;
    announce = announceEnd;
    var listed = false; // whether the runs table shows this run yet
    while (watching === runId) {
      var run = null;
      try { run = await getJson('/runs/' + runId); } catch (e) { /* try again */ }
      if (watching !== runId) return;
      if (run && run.status !== 'running') {
        watching = null;
        showProgress(null);
        if (announce) {
          report(run);
          await refresh();
        }
        return;
      }
      if (run) showProgress(run);
      if (run && !listed) {
        listed = true;
        if (latestShown() < runId) await refresh();
      }
      await sleep(POLL_MS);
    }
  }

  // The run a POST of this page started: the newest one, once it is newer than what the page showed.
  async function findNewRun(since) {
    while (pending > 0 && watching === null) {
      try {
        var newest = (await getJson('/runs')).runs[0];
        if (newest && newest.run_id > since && newest.status === 'running' && pending > 0 && watching === null) {
          follow(newest.run_id, false);
          return;
        }
      } catch (e) { /* try again */ }
      await sleep(POLL_MS);
    }
  }

  function latestShown() {
    var runs = document.getElementById('runs');
    return Number((runs && runs.dataset.latestRun) || 0);
  }

  // A token typed or pasted in the box counts from the next request on, whether or not "Use it"
  // was clicked: the 401 message tells the user to paste it, then click Run ETL again.
  function keepTypedToken() {
    if (!tokenInput.value) return;
    try { sessionStorage.setItem(TOKEN_KEY, tokenInput.value); } catch (e) { /* storage refused: the token is not kept */ }
    tokenInput.value = '';
    showTokenState();
  }

  // POST /data with the chosen files as multipart/form-data, through XMLHttpRequest: unlike fetch,
  // it tells how much of the body has been sent.
  function sendFiles(data) {
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      xhr.open('POST', '/data');
      var h = headers();
      Object.keys(h).forEach(function (name) { xhr.setRequestHeader(name, h[name]); });
      xhr.upload.addEventListener('progress', function (event) {
        showUpload(event.loaded, event.lengthComputable ? event.total : 0, false);
      });
      xhr.upload.addEventListener('load', function (event) {
        showUpload(event.loaded, event.lengthComputable ? event.total : 0, true);
      });
      xhr.addEventListener('load', function () {
        var body = {};
        try { body = JSON.parse(xhr.responseText); } catch (e) { /* not JSON: the status says enough */ }
        resolve({ status: xhr.status, statusText: xhr.statusText, body: body });
      });
      xhr.addEventListener('error', function () { reject(new Error('the connection was closed before an answer')); });
      xhr.send(data);
    });
  }

  function showUpload(loaded, total, sent) {
    if (loaded === null) {
      uploadProgress.hidden = true;
      uploadProgress.replaceChildren();
      return;
    }
    var share = total > 0 ? Math.min(100, Math.round((loaded / total) * 100)) : 0;
    var text = sent
      ? 'The files are sent (' + bytes(loaded) + '); the service is running the ETL on them.'
      : 'Sending the files: ' + bytes(loaded) + (total > 0 ? ' of ' + bytes(total) + ' (' + share + '%)' : '');
    var bar = element('progress');
    bar.max = 100;
    bar.value = sent ? 100 : share;
    bar.setAttribute('aria-label', 'Upload of the files');
    uploadProgress.replaceChildren(element('p', text, 'progress-step'), bar);
    uploadProgress.hidden = false;
  }

  // again: the button to click again, named in the 401 message.
  async function runEtl(files, again) {
    keepTypedToken();
    pending++;
    if (watching === null) {
      say(files ? 'Sending the files…' : 'Starting a run…');
      findNewRun(latestShown());
    }
    var answer;
    try {
      if (files) {
        showUpload(0, 0, false);
        answer = await sendFiles(files);
      } else {
        var response = await fetch('/data', { method: 'POST', headers: headers() });
        var parsed = await response.json().catch(function () { return {}; });
        answer = { status: response.status, statusText: response.statusText, body: parsed };
      }
    } catch (e) {
      pending--;
      if (files) showUpload(null);
      say('The service did not answer (' + e.message + '). Is it still running?', 'failed');
      return;
    }
    pending--;
    if (files) showUpload(null);
    var status = answer.status;
    var body = answer.body || {};
    if (status === 409) {
      say('Another run is in progress (run ' + body.run_id + '): this click started nothing. Its progress is shown below; ' +
        'try again when it has finished.', 'warning');
      if (body.run_id && watching !== body.run_id) follow(body.run_id, true);
      return;
    }
    if (status === 401) {
      say('The service needs its API token to run the ETL (' + (body.error || 'HTTP 401') + '). Paste it under “API token” below, ' +
        'then click ' + again + ' again.', 'failed');
      tokenBox.open = true;
      tokenInput.focus();
      return;
    }
    if (body.run_id && watching === body.run_id) {
      watching = null;
      showProgress(null);
    }
    if (status === 200) say(describe(body), succeeded(body), runLink(body.run_id));
    else if (status === 422) say('Run ' + body.run_id + ' failed, the input is unusable: ' + body.error, 'failed', runLink(body.run_id));
    else if (!body.run_id) say('The service refused the request (HTTP ' + status + '): ' + (body.error || answer.statusText), 'failed');
    else say('Run ' + body.run_id + ' failed (HTTP ' + status + '): ' + (body.error || answer.statusText) +
      (status === 503 ? ' Try again in a few seconds.' : ''), 'failed', runLink(body.run_id));
    if (body.run_id) await refresh();
  }

  form.addEventListener('submit', function (event) {
    event.preventDefault();
    runEtl(null, 'Run ETL');
  });

  // Reached only once every file box has a file (the inputs are required).
  uploadForm.addEventListener('submit', function (event) {
    event.preventDefault();
    runEtl(new FormData(uploadForm), 'Upload and run');
  });

  // Files dropped on the box go to the input named after them (users.csv to users, …); one file
  // dropped on an input is left to the browser, which puts it in that input.
  var fileInputs = Array.from(uploadForm.querySelectorAll('input[type="file"]'));
  dropZone.addEventListener('dragover', function (event) {
    event.preventDefault();
    dropZone.classList.add('dragging');
  });
  dropZone.addEventListener('dragleave', function () { dropZone.classList.remove('dragging'); });
  dropZone.addEventListener('drop', function (event) {
    dropZone.classList.remove('dragging');
    var dropped = event.dataTransfer ? Array.from(event.dataTransfer.files) : [];
    if (event.target instanceof HTMLInputElement && event.target.type === 'file' && dropped.length === 1) return;
    event.preventDefault();
    var unknown = [];
    dropped.forEach(function (file) {
      var part = file.name.replace(/\.csv$/i, '').toLowerCase();
      var input = fileInputs.find(function (i) { return i.name === part; });
      if (!input) { unknown.push(file.name); return; }
      var one = new DataTransfer();
      one.items.add(file);
      input.files = one.files;
    });
    if (unknown.length > 0) {
      say('Not one of ' + fileInputs.map(function (i) { return i.name + '.csv'; }).join(', ') + ': ' + unknown.join(', ') +
        '. Choose each file in its own box instead.', 'warning');
    } else if (dropped.length > 0) {
      message.replaceChildren();
      message.className = 'message';
    }
  });

  document.getElementById('token-form').addEventListener('submit', function (event) {
    event.preventDefault();
    keepTypedToken();
  });
  document.getElementById('token-forget').addEventListener('click', function () {
    try { sessionStorage.removeItem(TOKEN_KEY); } catch (e) { /* nothing kept */ }
    showTokenState();
  });
  showTokenState();

  var runs = document.getElementById('runs');
  var running = runs && Number(runs.dataset.runningRun || 0);
  if (running) follow(running, true);
})();
`;
