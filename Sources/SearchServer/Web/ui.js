// Small DOM helpers and the pieces every page shares: match cards, empty states, error notices.

import { thumbnailURL } from './api.js';

/** Creates an element: `h('a', { href, class: 'x' }, 'text', child)`. Attributes set to null or false are left out. */
export function h(tag, attributes = {}, ...children) {
    const element = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
        if (value === null || value === undefined || value === false) continue;
        if (name.startsWith('on') && typeof value === 'function') {
            element.addEventListener(name.slice(2), value);
        } else if (name === 'dataset') {
            Object.assign(element.dataset, value);
        } else {
            element.setAttribute(name, value === true ? '' : String(value));
        }
    }
    element.append(...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
    return element;
}

/** An inline SVG icon from a path list (24×24, stroked), decorative. */
export function icon(paths) {
    const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('aria-hidden', 'true');
    svg.classList.add('icon');
    for (const d of paths) {
        const path = document.createElementNS('http://www.w3.org/2000/svg', 'path');
        path.setAttribute('d', d);
        svg.append(path);
    }
    return svg;
}

export const icons = {
    image: ['M4 5h16v14H4z', 'm4 16 5-5 4 4 3-3 4 4', 'M15.5 9.5h.01'],
    camera: ['M4 8h3l2-3h6l2 3h3v11H4z', 'M12 16.5a3.5 3.5 0 1 0 0-7 3.5 3.5 0 0 0 0 7z'],
    link: ['M10 14a4 4 0 0 0 5.7 0l3-3a4 4 0 0 0-5.7-5.7l-1 1', 'M14 10a4 4 0 0 0-5.7 0l-3 3a4 4 0 0 0 5.7 5.7l1-1'],
    upload: ['M12 16V4', 'm7 9 5-5 5 5', 'M4 16v4h16v-4'],
    radar: ['M12 12h.01', 'M5.6 5.6a9 9 0 0 0 0 12.8', 'M18.4 5.6a9 9 0 0 1 0 12.8', 'M8.5 8.5a5 5 0 0 0 0 7', 'M15.5 8.5a5 5 0 0 1 0 7'],
    alert: ['M12 3 2 20h20z', 'M12 10v4', 'M12 17h.01'],
    grid: ['M3 3h7v7H3z', 'M14 3h7v7h-7z', 'M3 14h7v7H3z', 'M14 14h7v7h-7z'],
    device: ['M7 3h10v18H7z', 'M11 18h2'],
    external: ['M14 4h6v6', 'M20 4l-9 9', 'M18 14v6H4V6h6'],
    back: ['M15 18l-6-6 6-6'],
    left: ['M15 18l-6-6 6-6'],
    right: ['M9 18l6-6-6-6'],
};

/** A score (a cosine in [−1, 1], plus up to 0.5 for a candidate whose local features match) as a two-decimal number people read at a glance. */
export function formatScore(score) {
    return Number.isFinite(score) ? score.toFixed(2) : '–';
}

export function formatMilliseconds(ms) {
    if (!Number.isFinite(ms)) return '–';
    return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}

/** "12 s ago" style time for recent events, the locale's time for older ones. */
export function formatTime(iso) {
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) return '–';
    const seconds = Math.round((Date.now() - date.getTime()) / 1000);
    if (seconds < 5) return 'just now';
    if (seconds < 60) return `${seconds} s ago`;
    if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
    return date.toLocaleString();
}

/** An `<img>` of an item's thumbnail with a srcset so phones and wide screens both get sharp pictures. */
export function thumbnail(item, size, { alt = item.title ?? `Item ${item.id}`, eager = false } = {}) {
    const image = h('img', {
        src: thumbnailURL(item, size),
        srcset: `${thumbnailURL(item, size)} 1x, ${thumbnailURL(item, Math.min(size * 2, 1024))} 2x`,
        alt,
        loading: eager ? 'eager' : 'lazy',
        decoding: 'async',
    });
    image.addEventListener('error', () => image.closest('.media')?.classList.add('media-broken'), { once: true });
    return image;
}

/**
 * A result card: thumbnail, title, score bar and a link to the item's page.
 * `rank` numbers it; `size` is the thumbnail size asked of the server.
 */
export function matchCard(match, { rank = null, size = 256, eager = false } = {}) {
    const score = Number(match.score);
    const percent = Math.max(0, Math.min(100, Math.round(score * 100)));
    return h(
        'li',
        { class: 'card', dataset: { id: match.id } },
        h(
            'a',
            { class: 'card-link', href: `#/item/${encodeURIComponent(match.id)}` },
            h('div', { class: 'media' }, thumbnail(match, size, { eager }), rank !== null ? h('span', { class: 'rank' }, `#${rank}`) : null),
            h('div', { class: 'card-body' }, h('span', { class: 'card-title' }, match.title || `Item ${match.id}`)),
        ),
        Number.isFinite(score)
            ? h(
                  'div',
                  { class: 'score', title: `Score ${score.toFixed(4)}` },
                  h('span', { class: 'score-bar', role: 'presentation' }, h('span', { style: `width:${percent}%` })),
                  h('span', { class: 'score-value' }, h('span', { class: 'visually-hidden' }, 'score '), formatScore(score)),
              )
            : null,
    );
}

/** A grid of match cards, or an empty state when there are none. */
export function matchGrid(matches, options = {}) {
    if (!matches?.length) return emptyState(icons.grid, options.emptyTitle ?? 'No matches', options.emptyText ?? 'Nothing in the catalogue is close enough.');
    return h('ol', { class: `grid ${options.large ? 'grid-large' : ''}`, 'aria-label': options.label ?? 'Matches' }, matches.map((match, index) => matchCard(match, { rank: index + 1, size: options.size ?? 256, eager: options.eager })));
}

export function emptyState(iconPaths, title, text, ...actions) {
    return h('div', { class: 'empty' }, h('div', { class: 'empty-icon' }, icon(iconPaths)), h('p', { class: 'empty-title' }, title), h('p', { class: 'empty-text' }, text), ...actions);
}

/** An error notice with the server's one-line message, announced to screen readers. */
export function errorNotice(error, title = 'Something went wrong') {
    return h('div', { class: 'notice notice-error', role: 'alert' }, icon(icons.alert), h('div', {}, h('strong', {}, title), h('p', {}, error?.message ?? String(error))));
}

export function spinner(label = 'Loading') {
    return h('div', { class: 'loading', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), h('span', {}, `${label}…`));
}

/** Replaces a container's children. */
export function show(container, ...children) {
    container.replaceChildren(...children.flat().filter(Boolean));
}
