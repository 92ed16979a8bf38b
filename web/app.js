// The opsis app: one page, routed by its path. Plain modules, no build step, no CDN.
// Every piece of user text goes into the page through textContent (el() below): never
// innerHTML, so captions, comments, handles and prompts stay text.
import { feedPage, prefetchFeed } from './feed.js';
import { cameoPage } from './cameo.js';

const state = { user: null, csrf: '' };
export { state };

// ---- small helpers -----------------------------------------------------------------------

// el('a', {href, class, onclick, ...}, child...): children are nodes or text (as text nodes).
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
    else if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key in node && typeof value !== 'string') node[key] = value;
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message || `request failed (${status})`);
    this.status = status;
    this.param = body?.error?.param;
  }
}

export async function api(path, { method = 'GET', body } = {}) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET') headers['X-CSRF-Token'] = state.csrf;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

export function toast(message) {
  const box = document.getElementById('toast');
  box.textContent = message;
  box.classList.add('show');
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => box.classList.remove('show'), 3500);
}

export function go(path) {
  history.pushState({}, '', path);
  route();
}

// Internal links navigate without reloading.
document.addEventListener('click', (event) => {
  const link = event.target.closest('a[href]');
  if (!link || link.target || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
  const url = new URL(link.href, location.href);
  if (url.origin !== location.origin || !(url.pathname === '/' || url.pathname.startsWith('/app/')) ||
      url.pathname.startsWith('/app/media/')) return;
  event.preventDefault();
  go(url.pathname + url.search + url.hash);
});
addEventListener('popstate', () => route());

export function userLink(handle, { cls = 'handle' } = {}) {
  return el('a', { href: `/app/u/${encodeURIComponent(handle)}`, class: cls }, `@${handle}`);
}

export function avatar(user, size = 'small') {
  if (user.avatar) return el('img', { class: `avatar ${size}`, src: user.avatar, alt: '' });
  const letter = (user.display_name || user.handle || '?').trim().charAt(0).toUpperCase() || '?';
  return el('span', { class: `avatar ${size}`, 'aria-hidden': 'true' }, letter);
}

function formError(form, error) {
  let box = form.querySelector('.error');
  if (!box) {
    box = el('p', { class: 'error', role: 'alert' });
    form.prepend(box);
  }
  box.textContent = error.message;
}

function field(label, input, hint) {
  const id = input.id || `f-${Math.random().toString(36).slice(2)}`;
  input.id = id;
  return el('div', { class: 'field' }, el('label', { for: id }, label), input, hint ? el('small', {}, hint) : null);
}

function page(title, ...children) {
  document.title = `${title} · opsis`;
  return el('section', { class: 'page' }, el('h1', {}, title), ...children);
}

function needSignIn() {
  return page('Sign in to continue', el('p', {}, 'This page needs an account. ',
    el('a', { href: `/app/login?next=${encodeURIComponent(location.pathname + location.search)}` }, 'Sign in'), ' or ',
    el('a', { href: '/app/signup' }, 'create one'), '.'));
}

// ---- session and navigation ----------------------------------------------------------------

async function loadSession() {
  const data = await api('/app/api/session');
  state.user = data.user;
  state.csrf = data.csrf;
}

function renderNav() {
  const nav = document.getElementById('nav');
  const items = [['/', 'Feed'], ['/app/create', 'Create']];
  if (state.user) {
    items.push(['/app/drafts', 'Drafts'], ['/app/cameo', 'Cameo'], [`/app/u/${state.user.handle}`, 'Profile'], ['/app/account', 'Account']);
    if (state.user.moderator) items.push(['/app/mod', 'Moderation']);
  } else {
    items.push(['/app/login', 'Sign in'], ['/app/signup', 'Sign up']);
  }
  const here = location.pathname;
  nav.replaceChildren(el('ul', {}, items.map(([href, label]) =>
    el('li', {}, el('a', { href, 'aria-current': (href === here || (href === '/' && here === '/app/feed')) ? 'page' : null }, label)))));
}

// ---- pages ---------------------------------------------------------------------------------

function authPage(kind) {
  const signup = kind === 'signup';
  const handle = el('input', { name: 'handle', autocomplete: 'username', required: true, minlength: 3, maxlength: 30,
    pattern: '@?[A-Za-z0-9_]{3,30}', autocapitalize: 'none', spellcheck: 'false' });
  const password = el('input', { name: 'password', type: 'password', required: true, minlength: 8, maxlength: 200,
    autocomplete: signup ? 'new-password' : 'current-password' });
  const display = el('input', { name: 'display_name', maxlength: 80, autocomplete: 'name' });
  const form = el('form', { class: 'card form', novalidate: false },
    field('Handle', handle, signup ? '3 to 30 letters, digits or _' : null),
    signup ? field('Display name', display) : null,
    field('Password', password, signup ? 'At least 8 characters' : null),
    el('button', { type: 'submit', class: 'primary' }, signup ? 'Create account' : 'Sign in'),
    el('p', {}, signup ? 'Have an account? ' : 'New here? ',
      el('a', { href: signup ? '/app/login' : '/app/signup' }, signup ? 'Sign in' : 'Create an account')));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      const body = { handle: handle.value, password: password.value };
      if (signup) body.display_name = display.value;
      const data = await api(signup ? '/app/api/signup' : '/app/api/login', { method: 'POST', body });
      state.user = data.user;
      state.csrf = data.csrf;
      const next = new URLSearchParams(location.search).get('next');
      go(next && next.startsWith('/') && !next.startsWith('//') ? next : '/');
    } catch (error) {
      formError(form, error);
    }
  });
  return page(signup ? 'Create your account' : 'Sign in', form);
}

function statusText(video) {
  if (video.status === 'completed') return video.published ? 'Published' : 'Draft';
  if (video.status === 'failed') return `Failed: ${video.error?.message || 'error'}`;
  return `${video.status === 'queued' ? 'Queued' : 'Rendering'} ${video.progress}%`;
}

async function composerPage() {
  if (!state.user) return needSignIn();
  const params = new URLSearchParams(location.search);
  const remixOf = params.get('remix');
  const [models, cameos] = await Promise.all([api('/app/api/models'), api('/app/api/cameos/usable')]);
  let source = null;
  if (remixOf) source = await api(`/app/api/videos/${encodeURIComponent(remixOf)}`);

  const prompt = el('textarea', { name: 'prompt', rows: 4, maxlength: 4000, required: true,
    placeholder: 'A small yellow balloon floats up over a beach at golden hour.' });
  const guide = ['scene', 'camera', 'lens', 'audio', 'dialogue', 'avoid'].map((name) =>
    [name, el('input', { name, maxlength: 500 })]);
  const model = el('select', { name: 'model' }, models.data.map((m) => el('option', { value: m.id }, m.id)));
  const orientation = el('select', { name: 'orientation' },
    el('option', { value: 'vertical' }, 'Vertical'), el('option', { value: 'horizontal' }, 'Horizontal'),
    el('option', { value: 'square' }, 'Square'));
  const size = el('select', { name: 'size' });
  const seconds = el('select', { name: 'seconds' });
  const image = el('input', { name: 'image', type: 'file', accept: 'image/png,image/jpeg,image/webp' });
  const fillSizes = () => {
    const info = models.data.find((m) => m.id === model.value) || models.data[0];
    const want = orientation.value;
    const fits = info.sizes.filter((s) => {
      const [w, h] = s.split('x').map(Number);
      return want === 'vertical' ? h > w : want === 'horizontal' ? w > h : w === h;
    });
    size.replaceChildren(...(fits.length ? fits : info.sizes).map((s) => el('option', { value: s }, s)));
    seconds.replaceChildren(...info.seconds.slice(0, 12).map((s) => el('option', { value: String(s) }, `${s} s`)));
    if ([...seconds.options].some((o) => o.value === '4')) seconds.value = '4';
    image.disabled = !info.image;
  };
  model.addEventListener('change', fillSizes);
  orientation.addEventListener('change', fillSizes);
  fillSizes();

  const cameoBoxes = cameos.data.map((c) =>
    el('label', { class: 'check' }, el('input', { type: 'checkbox', name: 'cameo', value: c.handle }), ` ${c.handle} `,
      el('small', {}, c.name)));
  const progress = el('progress', { max: 100, value: 0, hidden: true, 'aria-label': 'Progress' });
  const status = el('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
  const result = el('div', { class: 'result' });

  const form = el('form', { class: 'card form composer' },
    source ? el('p', { class: 'remixing' }, 'Remixing ', userLink(source.creator), '’s clip ',
      el('a', { href: `/app/v/${source.id}` }, source.caption || source.id)) : null,
    field('Prompt', prompt),
    el('details', {}, el('summary', {}, 'Prompt guide (optional)'),
      guide.map(([name, input]) => field(name[0].toUpperCase() + name.slice(1), input))),
    source ? el('p', { class: 'hint' }, `A remix keeps the source’s model, size and length (${source.size}, ${source.seconds} s).`) :
      el('div', { class: 'row' }, field('Model', model), field('Orientation', orientation), field('Size', size), field('Length', seconds)),
    source ? null : field('First frame (optional)', image),
    el('fieldset', {}, el('legend', {}, 'Cameos (up to two)'),
      cameoBoxes.length ? cameoBoxes : el('p', { class: 'hint' }, 'No cameos you may use yet.')),
    el('button', { type: 'submit', class: 'primary' }, source ? 'Remix' : 'Create'),
    progress, status);
  form.addEventListener('change', (event) => {
    if (event.target.name !== 'cameo') return;
    const picked = form.querySelectorAll('input[name=cameo]:checked');
    if (picked.length > 2) {
      event.target.checked = false;
      toast('Up to two cameos');
    }
  });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      const body = { prompt: prompt.value };
      for (const [name, input] of guide) if (input.value.trim()) body[name] = input.value.trim();
      body.cameos = [...form.querySelectorAll('input[name=cameo]:checked')].map((c) => c.value);
      if (source) {
        body.remix_of = source.id;
      } else {
        Object.assign(body, { model: model.value, size: size.value, seconds: seconds.value });
        if (image.files[0]) {
          body.image = await new Promise((resolve, reject) => {
            const reader = new FileReader();
            reader.onload = () => resolve(reader.result);
            reader.onerror = () => reject(new Error('cannot read the image'));
            reader.readAsDataURL(image.files[0]);
          });
        }
      }
      let video = await api('/app/api/videos', { method: 'POST', body });
      progress.hidden = false;
      while (video.status === 'queued' || video.status === 'in_progress') {
        progress.value = video.progress;
        status.textContent = statusText(video);
        await new Promise((r) => setTimeout(r, 400));
        video = await api(`/app/api/videos/${video.id}`);
      }
      progress.value = 100;
      status.textContent = video.status === 'completed' ? 'Done: saved to your drafts.' : statusText(video);
      if (video.status === 'completed') result.replaceChildren(draftCard(video));
    } catch (error) {
      formError(form, error);
    } finally {
      button.disabled = false;
    }
  });
  return page(source ? 'Remix' : 'Create', form, result);
}

function draftCard(video) {
  const caption = el('input', { name: 'caption', maxlength: 500, value: video.caption || '', placeholder: 'Caption' });
  const state_ = el('span', { class: 'badge' }, statusText(video));
  const actions = el('div', { class: 'actions' });
  const card = el('article', { class: 'card draft', 'data-id': video.id },
    video.status === 'completed'
      ? el('video', { src: video.video_url, poster: video.poster_url, controls: true, muted: true, playsinline: true, preload: 'none', class: 'thumb' })
      : el('div', { class: 'thumb placeholder' }, statusText(video)),
    el('div', { class: 'body' },
      el('p', {}, state_, ' ', el('a', { href: `/app/v/${video.id}`, title: video.id }, 'Clip page')),
      video.prompt ? el('p', { class: 'prompt' }, video.prompt) : null,
      video.remixed_from_video_id ? el('p', { class: 'hint' }, 'Remix of ', el('a', { href: `/app/v/${video.remixed_from_video_id}` }, video.remixed_from_video_id)) : null,
      video.status === 'completed' ? field('Caption', caption) : null,
      actions));
  const publish = el('button', { type: 'button', class: 'primary' }, video.published ? 'Update caption' : 'Publish');
  publish.addEventListener('click', async () => {
    try {
      const v = await api(`/app/api/videos/${video.id}/publish`, { method: 'POST', body: { caption: caption.value } });
      state_.textContent = statusText(v);
      publish.textContent = 'Update caption';
      toast('Published');
    } catch (error) { toast(error.message); }
  });
  const unpublish = el('button', { type: 'button' }, 'Unpublish');
  unpublish.addEventListener('click', async () => {
    try {
      const v = await api(`/app/api/videos/${video.id}/unpublish`, { method: 'POST' });
      state_.textContent = statusText(v);
      publish.textContent = 'Publish';
    } catch (error) { toast(error.message); }
  });
  const del = el('button', { type: 'button', class: 'danger' }, 'Delete');
  del.addEventListener('click', async () => {
    if (!confirm('Delete this video for good?')) return;
    try {
      await api(`/app/api/videos/${video.id}`, { method: 'DELETE' });
      card.remove();
    } catch (error) { toast(error.message); }
  });
  if (video.status === 'completed') actions.append(publish, video.published ? unpublish : '', ' ');
  actions.append(del);
  return card;
}

async function draftsPage() {
  if (!state.user) return needSignIn();
  const data = await api('/app/api/drafts');
  return page('Your videos', data.data.length ? el('div', { class: 'grid' }, data.data.map(draftCard))
    : el('p', {}, 'Nothing yet. ', el('a', { href: '/app/create' }, 'Create a video'), '.'));
}

export function likeButton(video) {
  const button = el('button', { type: 'button', class: 'like', 'aria-pressed': video.liked ? 'true' : 'false' });
  const paint = (liked, count) => {
    button.setAttribute('aria-pressed', liked ? 'true' : 'false');
    button.replaceChildren(el('span', { 'aria-hidden': 'true' }, liked ? '♥ ' : '♡ '), el('span', { class: 'sr' }, 'Like '),
      el('span', { class: 'count' }, String(count)), el('span', { class: 'sr' }, ' likes'));
  };
  paint(!!video.liked, video.likes || 0);
  button.addEventListener('click', async () => {
    if (!state.user) return go(`/app/login?next=${encodeURIComponent(location.pathname)}`);
    const on = button.getAttribute('aria-pressed') !== 'true';
    try {
      const r = await api(`/app/api/videos/${video.id}/like`, { method: on ? 'POST' : 'DELETE' });
      paint(r.liked, r.likes);
    } catch (error) { toast(error.message); }
  });
  return button;
}

export function commentsPanel(video, onCount) {
  const list = el('ol', { class: 'comments' });
  const text = el('textarea', { name: 'text', rows: 2, maxlength: 1000, required: true });
  const form = el('form', { class: 'comment-form' }, field('Add a comment', text), el('button', { type: 'submit' }, 'Post'));
  const render = (c) => el('li', {}, userLink(c.user), ' ', el('span', { class: 'text' }, c.text), ' ', reportButton('comment', String(c.id)));
  const load = async () => {
    const data = await api(`/app/api/videos/${video.id}/comments`);
    list.replaceChildren(...data.data.map(render));
    if (!data.data.length) list.append(el('li', { class: 'hint' }, 'No comments yet.'));
  };
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!state.user) return go(`/app/login?next=${encodeURIComponent(location.pathname)}`);
    try {
      const c = await api(`/app/api/videos/${video.id}/comments`, { method: 'POST', body: { text: text.value } });
      list.querySelector('.hint')?.remove();
      list.append(render(c));
      text.value = '';
      onCount?.(list.children.length);
    } catch (error) { formError(form, error); }
  });
  load().catch((error) => toast(error.message));
  return el('div', { class: 'comments-panel' }, el('h2', {}, 'Comments'), list, state.user ? form : el('p', {}, el('a', { href: '/app/login' }, 'Sign in'), ' to comment.'));
}

export function reportButton(kind, target) {
  const button = el('button', { type: 'button', class: 'link small' }, 'Report');
  button.setAttribute('aria-label', `Report this ${kind}`);
  button.addEventListener('click', () => {
    if (!state.user) return go(`/app/login?next=${encodeURIComponent(location.pathname)}`);
    const reason = el('select', { name: 'reason' }, ['Spam', 'Harassment', 'Uses my likeness', 'Violence or harm', 'Other']
      .map((r) => el('option', { value: r }, r)));
    const detail = el('input', { name: 'detail', maxlength: 300 });
    const dialog = el('dialog', { class: 'card' },
      el('form', { method: 'dialog', class: 'form' }, el('h2', {}, `Report this ${kind}`), field('Reason', reason), field('Details (optional)', detail),
        el('div', { class: 'actions' }, el('button', { value: 'send', class: 'primary' }, 'Send report'), el('button', { value: 'cancel' }, 'Cancel'))));
    dialog.addEventListener('close', async () => {
      if (dialog.returnValue === 'send') {
        try {
          await api('/app/api/reports', { method: 'POST', body: { kind, target, reason: detail.value ? `${reason.value}: ${detail.value}` : reason.value } });
          toast('Thanks, a moderator will look at it.');
        } catch (error) { toast(error.message); }
      }
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
  });
  return button;
}

export function shareButton(video) {
  const button = el('button', { type: 'button', class: 'link small' }, 'Share');
  button.addEventListener('click', async () => {
    const url = `${location.origin}/app/v/${video.id}`;
    try {
      await navigator.clipboard.writeText(url);
      toast('Link copied');
    } catch {
      toast(url);
    }
  });
  return button;
}

function chainTree(video) {
  const item = (v, current) => el('li', {}, v.id
    ? el('a', { href: `/app/v/${v.id}`, 'aria-current': current ? 'page' : null }, `@${v.creator}`, v.caption ? ` — ${v.caption}` : '')
    : el('span', { class: 'hint' }, 'a private clip'));
  // Nested lists: root > ... > this clip > its direct remixes.
  let innermost = el('ul', {}, video.chain.remixes.map((r) => item(r, false)));
  let node = el('li', { class: 'current' }, el('strong', {}, `@${video.creator}`, video.caption ? ` — ${video.caption}` : '', ' (this clip)'),
    video.chain.remixes.length ? innermost : null);
  for (const a of [...video.chain.ancestors].reverse()) {
    const li = item(a, false);
    li.append(el('ul', {}, node));
    node = li;
  }
  return el('nav', { class: 'chain', 'aria-label': 'Remix chain' }, el('h2', {}, 'Remix chain'), el('ul', { class: 'tree' }, node),
    video.chain.remixes.length ? null : el('p', { class: 'hint' }, 'No remixes yet.'));
}

async function clipPage(id) {
  const video = await api(`/app/api/videos/${encodeURIComponent(id)}`);
  const player = el('video', { src: video.video_url, poster: video.poster_url, controls: true, playsinline: true, loop: true, class: 'player', preload: 'metadata' });
  if (video.dialogue?.length) player.append(el('track', { kind: 'captions', srclang: 'en', label: 'Dialogue', src: `/app/media/${video.id}/captions.vtt` }));
  const actions = el('div', { class: 'actions' });
  if (video.published) {
    actions.append(likeButton(video), ' ', el('a', { class: 'button', href: `/app/create?remix=${video.id}` }, 'Remix'), ' ', shareButton(video), ' ', reportButton('video', video.id));
  }
  actions.append(' ', el('a', { class: 'button', href: video.video_url, download: `${video.id}.mp4` }, 'Download'));
  const provenance = el('section', { class: 'provenance', id: 'provenance' }, el('h2', {}, 'Made with'),
    el('dl', {},
      el('dt', {}, 'Model'), el('dd', {}, video.resolved_model),
      el('dt', {}, 'Creator'), el('dd', {}, userLink(video.creator)),
      el('dt', {}, 'Remixed from'), el('dd', {}, video.remixed_from_video_id ? el('a', { href: `/app/v/${video.remixed_from_video_id}` }, video.remixed_from_video_id) : 'an original'),
      el('dt', {}, 'Content credentials'), el('dd', { class: 'c2pa' }, 'checking…')));
  api(`/app/api/videos/${video.id}/provenance`).then((p) => {
    provenance.querySelector('.c2pa').textContent = p.summary;
  }).catch(() => { provenance.querySelector('.c2pa').textContent = 'not available'; });
  return page(video.caption || 'A clip',
    el('div', { class: 'clip-page' },
      el('div', { class: 'media' }, player),
      el('div', { class: 'side' },
        el('p', {}, userLink(video.creator), video.published ? '' : el('span', { class: 'badge' }, ' draft (only you can see it)')),
        video.mine && video.prompt ? el('p', { class: 'prompt' }, video.prompt) : null,
        actions, provenance, chainTree(video),
        video.published ? commentsPanel(video) : null)));
}

async function profilePage(handle) {
  const user = await api(`/app/api/users/${encodeURIComponent(handle)}`);
  const followers = el('span', {}, String(user.followers));
  const head = el('div', { class: 'profile-head' }, avatar(user, 'large'),
    el('div', {}, el('h1', {}, user.display_name), el('p', { class: 'handle' }, `@${user.handle}`),
      user.bio ? el('p', { class: 'bio' }, user.bio) : null,
      el('p', {}, followers, ' followers · ', String(user.following), ' following',
        user.follows_you ? el('span', { class: 'badge' }, user.you_follow ? 'Mutuals' : 'Follows you') : null),
      user.cameo ? el('p', {}, 'Cameo: ', el('span', { class: 'handle' }, user.cameo)) : null));
  if (state.user && state.user.handle !== user.handle) {
    const button = el('button', { type: 'button', class: user.you_follow ? '' : 'primary', 'aria-pressed': user.you_follow ? 'true' : 'false' },
      user.you_follow ? 'Following' : 'Follow');
    button.addEventListener('click', async () => {
      const on = button.getAttribute('aria-pressed') !== 'true';
      try {
        await api(`/app/api/users/${user.handle}/follow`, { method: on ? 'POST' : 'DELETE' });
        button.setAttribute('aria-pressed', on ? 'true' : 'false');
        button.textContent = on ? 'Following' : 'Follow';
        button.className = on ? '' : 'primary';
        followers.textContent = String(Number(followers.textContent) + (on ? 1 : -1));
      } catch (error) { toast(error.message); }
    });
    const block = el('button', { type: 'button', class: 'danger', 'aria-pressed': user.you_block ? 'true' : 'false' }, user.you_block ? 'Unblock' : 'Block');
    block.addEventListener('click', async () => {
      const on = block.getAttribute('aria-pressed') !== 'true';
      if (on && !confirm(`Block @${user.handle}? You will not see each other's clips or comments, and follows end.`)) return;
      try {
        await api(`/app/api/users/${user.handle}/block`, { method: on ? 'POST' : 'DELETE' });
        block.setAttribute('aria-pressed', on ? 'true' : 'false');
        block.textContent = on ? 'Unblock' : 'Block';
        if (on) { button.setAttribute('aria-pressed', 'false'); button.textContent = 'Follow'; button.className = 'primary'; }
      } catch (error) { toast(error.message); }
    });
    head.lastChild.append(el('div', { class: 'actions' }, button, ' ', block, ' ', reportButton('user', user.handle)));
  }
  document.title = `@${user.handle} · opsis`;
  return el('section', { class: 'page' }, head, el('h2', {}, 'Clips'),
    user.posts.length ? el('ul', { class: 'grid posts' }, user.posts.map((p) => el('li', {},
      el('a', { href: `/app/v/${p.id}`, class: 'tile' }, el('img', { src: p.poster_url, alt: p.caption || `clip by @${p.creator}`, loading: 'lazy' }),
        el('span', { class: 'tile-caption' }, p.caption || ''))))) : el('p', { class: 'hint' }, 'No published clips yet.'));
}

async function accountPage() {
  if (!state.user) return needSignIn();
  const display = el('input', { name: 'display_name', maxlength: 80, required: true, value: state.user.display_name });
  const bio = el('textarea', { name: 'bio', maxlength: 500, rows: 3 }, state.user.bio || '');
  const profile = el('form', { class: 'card form' }, el('h2', {}, 'Profile'), field('Display name', display), field('Bio', bio),
    el('p', { class: 'hint' }, 'Your avatar is your cameo portrait once you enroll a cameo.'),
    el('button', { type: 'submit', class: 'primary' }, 'Save'));
  profile.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      state.user = await api('/app/api/profile', { method: 'POST', body: { display_name: display.value, bio: bio.value } });
      toast('Saved');
    } catch (error) { formError(profile, error); }
  });
  const keyList = el('ul', { class: 'keys' });
  const secret = el('p', { class: 'secret', role: 'status' });
  const loadKeys = async () => {
    const data = await api('/app/api/keys');
    keyList.replaceChildren(...data.data.map((k) => el('li', {}, el('code', {}, `${k.prefix}…`), ` ${k.id}`, k.revoked ? ' (revoked)' : '')));
  };
  const newKey = el('button', { type: 'button' }, 'Create an API key');
  newKey.addEventListener('click', async () => {
    try {
      const k = await api('/app/api/keys', { method: 'POST' });
      secret.replaceChildren('Copy it now, it is shown once: ', el('code', {}, k.secret));
      loadKeys();
    } catch (error) { toast(error.message); }
  });
  loadKeys().catch(() => {});
  const logout = el('button', { type: 'button', class: 'danger' }, 'Sign out');
  logout.addEventListener('click', async () => {
    await api('/app/api/logout', { method: 'POST' }).catch(() => {});
    await loadSession();
    go('/');
  });
  return page('Account', profile,
    el('section', { class: 'card' }, el('h2', {}, 'API keys'), el('p', { class: 'hint' }, 'For the OpenAI Videos API at /v1 (the same videos and jobs as this app).'), keyList, newKey, secret),
    el('section', { class: 'card' }, el('h2', {}, 'Session'), logout));
}

async function modPage() {
  if (!state.user?.moderator) return page('Not found', el('p', {}, 'No such page.'));
  const data = await api('/app/api/mod/queue');
  const act = (r, action, kind) => {
    const b = el('button', { type: 'button', class: action === 'dismiss' ? '' : 'danger' }, action);
    b.addEventListener('click', async () => {
      try {
        await api('/app/api/mod/actions', { method: 'POST', body: { action, kind, target: r.target, note: r.reason } });
        b.closest('li').remove();
        toast(`${action}: done`);
      } catch (error) { toast(error.message); }
    });
    return b;
  };
  return page('Moderation',
    el('h2', {}, 'Open reports'),
    el('ul', { class: 'reports' }, data.reports.map((r) => el('li', { class: 'card' },
      el('p', {}, el('strong', {}, r.kind), ' ', r.kind === 'video' ? el('a', { href: `/app/v/${r.target}` }, r.target) : r.kind === 'user' ? userLink(r.target) : `#${r.target}`,
        ' reported by ', userLink(r.reporter)), el('p', {}, r.reason),
      el('div', { class: 'actions' },
        r.kind === 'user' ? act(r, 'ban', 'user') : [act(r, 'hide', r.kind), ' ', act(r, 'delete', r.kind)], ' ', act(r, 'dismiss', r.kind)))),
    data.reports.length ? null : el('li', { class: 'hint' }, 'Nothing to review.')),
    el('h2', {}, 'Recent actions'),
    el('ul', {}, data.actions.map((a) => el('li', {}, `${a.action} ${a.kind} ${a.target} by @${a.moderator}`))));
}

function notFound() {
  return page('Not found', el('p', {}, 'No such page. ', el('a', { href: '/' }, 'Back to the feed'), '.'));
}

// ---- router --------------------------------------------------------------------------------

// focus: move focus to the new page (in-app navigation), not on the first load, where Tab
// should start at the skip link.
export async function route({ focus = true } = {}) {
  const main = document.getElementById('main');
  const path = location.pathname;
  document.body.classList.toggle('feed-mode', path === '/' || path === '/app/feed' || path === '/app/following');
  renderNav();
  let view;
  try {
    let m;
    if (path === '/' || path === '/app' || path === '/app/' || path === '/app/feed') view = await feedPage('for_you');
    else if (path === '/app/following') view = await feedPage('following');
    else if (path === '/app/login') view = authPage('login');
    else if (path === '/app/signup') view = authPage('signup');
    else if (path === '/app/create') view = await composerPage();
    else if (path === '/app/drafts') view = await draftsPage();
    else if (path === '/app/account') view = await accountPage();
    else if (path === '/app/mod') view = await modPage();
    else if (path === '/app/cameo') view = state.user ? await cameoPage() : needSignIn();
    else if ((m = path.match(/^\/app\/v\/(video_[0-9a-f]+)$/))) view = await clipPage(m[1]);
    else if ((m = path.match(/^\/app\/u\/([A-Za-z0-9_]{3,30})$/))) view = await profilePage(m[1].toLowerCase());
    else view = notFound();
  } catch (error) {
    view = error.status === 404 ? notFound() : page('Something went wrong', el('p', { role: 'alert' }, error.message));
  }
  main.replaceChildren(view);
  if (focus && !document.body.classList.contains('feed-mode')) main.focus({ preventScroll: true });
}

if (['/', '/app', '/app/', '/app/feed'].includes(location.pathname)) prefetchFeed('for_you');
else if (location.pathname === '/app/following') prefetchFeed('following');
await loadSession().catch(() => {});
route({ focus: false });
