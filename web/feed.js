// The vertical feed: full-height clips that snap (touch, wheel, arrow keys), the visible one
// playing muted in a loop (tap or the sound button to unmute), the next one preloaded, and
// never more than three <video> elements with a source at once.
import { api, el, state, userLink, likeButton, commentsPanel, reportButton, shareButton, toast } from './app.js';

const KEEP = 1;  // clips before and after the visible one that keep their source

// The first page of a feed, asked for as early as possible (while the session loads).
let early = null;
export function prefetchFeed(tab) {
  early = { tab, response: api(`/app/api/feed?tab=${tab}&offset=0`) };
  early.response.catch(() => {});
}

export async function feedPage(tab) {
  document.title = 'Feed · opsis';
  const tabs = el('nav', { class: 'tabs', 'aria-label': 'Feed' },
    el('a', { href: '/', 'aria-current': tab === 'for_you' ? 'page' : null }, 'For you'),
    el('a', { href: '/app/following', 'aria-current': tab === 'following' ? 'page' : null }, 'Following'));
  const list = el('div', { class: 'feed', tabindex: '0', role: 'feed', 'aria-label': tab === 'for_you' ? 'For you' : 'Following', 'aria-busy': 'true' });
  const root = el('section', { class: 'feed-page' }, tabs, list);
  let muted = true;
  let offset = 0;
  let loading = false;
  let active = -1;
  const items = [];

  const soundButton = (video) => {
    const b = el('button', { type: 'button', class: 'sound', 'aria-pressed': muted ? 'false' : 'true' }, muted ? 'Tap to unmute' : 'Mute');
    b.addEventListener('click', () => setMuted(!muted));
    return b;
  };
  const setMuted = (value) => {
    muted = value;
    for (const it of items) {
      it.video.muted = muted;
      it.sound.textContent = muted ? 'Tap to unmute' : 'Mute';
      it.sound.setAttribute('aria-pressed', muted ? 'false' : 'true');
    }
  };

  const addClip = (post) => {
    const video = el('video', { muted: true, loop: true, playsinline: true, preload: 'none', poster: post.poster_url,
      'aria-label': `Clip by @${post.creator}${post.caption ? `: ${post.caption}` : ''}` });
    video.muted = true;
    video.dataset.src = post.video_url;
    if (post.dialogue?.length) video.append(el('track', { kind: 'captions', srclang: 'en', label: 'Dialogue', src: `/app/media/${post.id}/captions.vtt` }));
    video.addEventListener('click', () => setMuted(!muted));
    const commentsCount = el('span', { class: 'count' }, String(post.comments));
    const commentsButton = el('button', { type: 'button', class: 'comments-button' },
      'Comments ', commentsCount);
    commentsButton.addEventListener('click', () => {
      const dialog = el('dialog', { class: 'card sheet', 'aria-label': 'Comments' },
        commentsPanel(post, (n) => { commentsCount.textContent = String(n); }),
        el('form', { method: 'dialog' }, el('button', {}, 'Close')));
      dialog.addEventListener('close', () => dialog.remove());
      document.body.append(dialog);
      dialog.showModal();
    });
    const sound = soundButton(video);
    const article = el('article', { class: 'clip', 'aria-posinset': items.length + 1, 'aria-setsize': '-1', 'data-id': post.id },
      video,
      el('div', { class: 'overlay' },
        el('div', { class: 'meta' },
          userLink(post.creator),
          post.caption ? el('p', { class: 'caption' }, post.caption) : null,
          el('p', { class: 'made-with' }, el('a', { href: `/app/v/${post.id}#provenance` }, `made with ${post.model || 'opsis'}`),
            post.remixed_from_video_id ? [' · ', el('a', { href: `/app/v/${post.id}` }, 'remix chain')] : null)),
        el('div', { class: 'rail' },
          likeButton(post), commentsButton,
          el('a', { class: 'button', href: `/app/create?remix=${post.id}` }, 'Remix ', el('span', { class: 'count' }, String(post.remixes))),
          shareButton(post), reportButton('video', post.id), sound)));
    list.append(article);
    items.push({ post, video, article, sound });
    observer.observe(article);
  };

  // Only clips near the visible one have a source; the rest are emptied (their decoders freed).
  const setActive = (index) => {
    if (index === active || index < 0 || index >= items.length) return;
    active = index;
    items.forEach((it, i) => {
      const near = Math.abs(i - index) <= KEEP;
      if (near && !it.video.getAttribute('src')) {
        it.video.src = it.video.dataset.src;
        it.video.preload = i >= index ? 'auto' : 'metadata';  // this one and the next in full
      } else if (!near && it.video.getAttribute('src')) {
        it.video.pause();
        it.video.removeAttribute('src');
        it.video.load();
      }
      if (i === index) {
        it.video.muted = muted;
        it.video.play().catch(() => {});
        it.article.classList.add('active');
      } else {
        it.video.pause();
        it.article.classList.remove('active');
      }
    });
    if (index >= items.length - 3) more();
  };

  const observer = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      if (entry.isIntersecting && entry.intersectionRatio >= 0.6) setActive(items.findIndex((it) => it.article === entry.target));
    }
  }, { root: list, threshold: [0.6] });

  const more = async () => {
    if (loading || offset === null) return;
    loading = true;
    try {
      let data;
      if (offset === 0 && early && early.tab === tab) {
        data = await early.response;
        early = null;
      } else {
        data = await api(`/app/api/feed?tab=${tab}&offset=${offset}`);
      }
      data.data.forEach(addClip);
      offset = data.next_offset;
      if (!items.length) {
        list.append(el('div', { class: 'empty' }, tab === 'following'
          ? el('p', {}, state.user ? 'Nobody you follow has published yet.' : 'Sign in to see people you follow.')
          : el('p', {}, 'No clips yet. ', el('a', { href: '/app/create' }, 'Make the first one'), '.')));
      }
      if (active < 0 && items.length) setActive(0);
    } catch (error) {
      toast(error.message);
    } finally {
      loading = false;
      list.setAttribute('aria-busy', 'false');
    }
  };

  const step = (delta) => {
    const next = Math.max(0, Math.min(items.length - 1, (active < 0 ? 0 : active) + delta));
    items[next]?.article.scrollIntoView({ behavior: 'instant', block: 'start' });
    setActive(next);
  };
  // One clip per wheel gesture (a trackpad sends many events for one swipe).
  let lastWheel = 0;
  list.addEventListener('wheel', (event) => {
    if (event.target.closest('dialog')) return;
    event.preventDefault();
    const now = performance.now();
    if (Math.abs(event.deltaY) < 4 || now - lastWheel < 350) return;
    lastWheel = now;
    step(event.deltaY > 0 ? 1 : -1);
  }, { passive: false });
  const onKey = (event) => {
    if (!document.body.contains(list)) return document.removeEventListener('keydown', onKey);
    if (event.target.closest('input, textarea, select, dialog')) return;
    if (['ArrowDown', 'PageDown', 'j'].includes(event.key)) { event.preventDefault(); step(1); }
    else if (['ArrowUp', 'PageUp', 'k'].includes(event.key)) { event.preventDefault(); step(-1); }
    else if (event.key === 'm') setMuted(!muted);
  };
  document.addEventListener('keydown', onKey);
  // Touch and scrollbar: the snap ends on a clip, the observer makes it active.

  await more();
  return root;
}
