// The cameo page: enroll (a one-time challenge, then a recording from the camera or a file),
// who may use each cameo, approvals, restrictions, revoke, delete, and the videos it was used
// in (others' drafts included), which its owner may delete. Over /app/api/cameos (the cameo
// registry the API and the CLI use).
import { api, el, state, toast, userLink } from './app.js';

const PERMISSIONS = [
  ['only_me', 'Only me'],
  ['approved', 'People I approve'],
  ['mutuals', 'Mutuals (we follow each other)'],
  ['everyone', 'Everyone'],
];

function labelled(label, input) {
  input.id ||= `c-${Math.random().toString(36).slice(2)}`;
  return el('div', { class: 'field' }, el('label', { for: input.id }, label), input);
}

function readAsDataURL(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(new Error('cannot read the recording'));
    reader.readAsDataURL(blob);
  });
}

function enrollCard(onEnrolled) {
  let challenge = null;
  let recording = null;
  const instructions = el('p', { class: 'status', role: 'status', 'aria-live': 'polite' }, 'Start with a challenge: a phrase to say and a way to turn your head, valid for 5 minutes.');
  const getChallenge = el('button', { type: 'button' }, 'Get a challenge');
  const preview = el('video', { muted: true, playsinline: true, class: 'thumb', hidden: true, 'aria-label': 'Your recording' });
  const record = el('button', { type: 'button', disabled: true }, 'Record 4 seconds with the camera');
  const file = el('input', { type: 'file', accept: 'video/mp4,video/webm', disabled: true });
  const handle = el('input', { name: 'cameo_handle', maxlength: 30, required: true, placeholder: `${state.user.handle}_cameo`, autocapitalize: 'none' });
  const name = el('input', { name: 'cameo_name', maxlength: 80, value: state.user.display_name });
  const enroll = el('button', { type: 'submit', class: 'primary', disabled: true }, 'Enroll');
  const form = el('form', { class: 'card form enroll' }, el('h2', {}, 'Enroll a cameo'),
    el('ol', { class: 'steps' },
      el('li', {}, getChallenge, instructions),
      el('li', {}, 'Record yourself doing it: ', record, el('div', {}, labelled('Or upload a recording (MP4 or WebM)', file)), preview),
      el('li', {}, labelled('Cameo handle', handle), labelled('Name shown', name))),
    enroll);
  const ready = () => { enroll.disabled = !(challenge && recording); };
  getChallenge.addEventListener('click', async () => {
    try {
      challenge = await api('/app/api/cameos/challenge', { method: 'POST' });
      instructions.textContent = challenge.instructions;
      record.disabled = !navigator.mediaDevices?.getUserMedia;
      file.disabled = false;
      ready();
    } catch (error) { toast(error.message); }
  });
  record.addEventListener('click', async () => {
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
      const recorder = new MediaRecorder(stream, { mimeType: MediaRecorder.isTypeSupported('video/webm') ? 'video/webm' : '' });
      const chunks = [];
      recorder.ondataavailable = (e) => chunks.push(e.data);
      const done = new Promise((r) => { recorder.onstop = r; });
      preview.srcObject = stream;
      preview.hidden = false;
      preview.play().catch(() => {});
      recorder.start();
      record.textContent = 'Recording…';
      await new Promise((r) => setTimeout(r, 4000));
      recorder.stop();
      await done;
      stream.getTracks().forEach((t) => t.stop());
      preview.srcObject = null;
      recording = new Blob(chunks, { type: 'video/webm' });
      preview.src = URL.createObjectURL(recording);
      preview.controls = true;
      record.textContent = 'Record again';
      ready();
    } catch (error) { toast(`Camera: ${error.message}`); }
  });
  file.addEventListener('change', () => {
    recording = file.files[0] || null;
    ready();
  });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    enroll.disabled = true;
    try {
      const cameo = await api('/app/api/cameos/enroll', { method: 'POST', body: {
        challenge_id: challenge.id, handle: handle.value, display_name: name.value, recording: await readAsDataURL(recording) } });
      toast(`${cameo.handle} is active (only you may use it)`);
      onEnrolled();
    } catch (error) {
      toast(error.message);
      enroll.disabled = false;
    }
  });
  return form;
}

function cameoCard(cameo, reload) {
  const path = `/app/api/cameos/${cameo.id}`;
  const call = async (url, options, message) => {
    try {
      await api(url, options);
      if (message) toast(message);
      reload();
    } catch (error) { toast(error.message); }
  };
  const permission = el('select', { name: 'permission' }, PERMISSIONS.map(([v, l]) => el('option', { value: v, selected: v === cameo.permission }, l)));
  permission.addEventListener('change', () => call(`${path}/permission`, { method: 'POST', body: { permission: permission.value } }, 'Saved'));
  const approveInput = el('input', { name: 'approve', maxlength: 31, placeholder: '@handle', autocapitalize: 'none' });
  const approveForm = el('form', { class: 'inline' }, labelled('Approve someone', approveInput), el('button', { type: 'submit' }, 'Approve'));
  approveForm.addEventListener('submit', (e) => {
    e.preventDefault();
    call(`${path}/approve`, { method: 'POST', body: { user: approveInput.value.trim() } }, 'Approved');
  });
  const rules = el('textarea', { name: 'restrictions', rows: 3, maxlength: 2000 }, (cameo.restrictions || []).join('\n'));
  const rulesForm = el('form', {}, labelled('Restrictions, one per line (e.g. "no political videos")', rules), el('button', { type: 'submit' }, 'Save restrictions'));
  rulesForm.addEventListener('submit', (e) => {
    e.preventDefault();
    call(`${path}/restrictions`, { method: 'POST', body: { restrictions: rules.value.split('\n').map((r) => r.trim()).filter(Boolean) } }, 'Saved');
  });
  const revoke = el('button', { type: 'button', class: 'danger' }, 'Revoke');
  revoke.addEventListener('click', () => { if (confirm('Stop every use of this cameo now?')) call(`${path}/revoke`, { method: 'POST' }, 'Revoked'); });
  const del = el('button', { type: 'button', class: 'danger' }, 'Delete');
  del.addEventListener('click', () => { if (confirm('Delete this cameo? Its history stays in the consent ledger.')) call(path, { method: 'DELETE' }, 'Deleted'); });
  const videos = el('ul', { class: 'with-me' }, el('li', { class: 'hint' }, 'Loading…'));
  api(`${path}/videos`).then((data) => {
    videos.replaceChildren(...data.data.map((v) => {
      const remove = el('button', { type: 'button', class: 'danger' }, 'Delete');
      remove.setAttribute('aria-label', `Delete the video by @${v.creator}`);
      remove.addEventListener('click', () => { if (confirm('Delete this video?')) call(`${path}/videos/${v.id}`, { method: 'DELETE' }, 'Video deleted'); });
      return el('li', { 'data-id': v.id }, el('img', { src: v.poster_url, alt: '', class: 'mini' }), ' ', userLink(v.creator), ` ${v.status} `, remove);
    }));
    if (!data.data.length) videos.append(el('li', { class: 'hint' }, 'Not used in any video yet.'));
  }).catch((error) => { videos.replaceChildren(el('li', {}, error.message)); });
  return el('article', { class: 'card cameo', 'data-id': cameo.id },
    el('h2', {}, cameo.handle, ' ', el('span', { class: 'badge' }, cameo.state), ' ', el('span', { class: 'badge' }, cameo.kind)),
    el('p', {}, cameo.name),
    cameo.state === 'revoked' ? el('p', { class: 'hint' }, 'Revoked: nobody can use it.') : labelled('Who may use it', permission),
    el('div', {}, el('h3', {}, 'Approved'), el('ul', {}, (cameo.approved || []).map((u) => {
      const b = el('button', { type: 'button', class: 'link small' }, 'Remove');
      b.setAttribute('aria-label', `Remove @${u}`);
      b.addEventListener('click', () => call(`${path}/approve/${encodeURIComponent(u)}`, { method: 'DELETE' }));
      return el('li', {}, userLink(u), ' ', b);
    })), approveForm),
    rulesForm,
    el('h3', {}, 'Videos with me'), videos,
    el('div', { class: 'actions' }, cameo.state === 'revoked' ? null : revoke, ' ', del));
}

export async function cameoPage() {
  document.title = 'Cameo · opsis';
  const list = el('div', { class: 'cameos' });
  const reload = async () => {
    const data = await api('/app/api/cameos/mine');
    // People first (the owner's own likeness), then characters; newest first within each.
    const order = [...data.data].sort((a, b) => (a.kind === b.kind ? b.created_at - a.created_at : a.kind === 'person' ? -1 : 1));
    list.replaceChildren(...order.map((c) => cameoCard(c, reload)));
    if (!data.data.length) list.append(el('p', { class: 'hint' }, 'You have no cameo yet.'));
  };
  await reload();
  return el('section', { class: 'page' }, el('h1', {}, 'Your cameo'),
    el('p', {}, 'A cameo lets the people you choose put your likeness in their videos. You see every video it is used in, drafts included, and can delete them or revoke it at any time.'),
    list, enrollCard(reload));
}
