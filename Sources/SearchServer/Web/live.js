// Live: the latest match event, pushed by the server over Server-Sent Events (no polling), with a strip of
// recent events. Selecting an older event pins it until "Back to latest".

import { api, streamURL, thumbnailURL } from './api.js';
import { h, icon, icons, formatMilliseconds, formatTime, matchGrid, emptyState, errorNotice, show } from './ui.js';

const HISTORY_LIMIT = 16;

export class LivePage {
    constructor(root) {
        this.root = root;
        this.events = []; // newest first, unique by event_id
        this.pinned = null; // event_id the person chose, or null to follow the newest
        this.stream = null;
        this.loaded = false;
        this.status = h('span', { class: 'pill pill-wait', id: 'live-status' }, 'Connecting…');
        this.current = h('div', { class: 'live-current', 'aria-live': 'polite', id: 'live-current' });
        this.strip = h('ol', { class: 'history-strip', id: 'live-history', 'aria-label': 'Recent match events' });
        // The strip sits inside the event card, under the matches, so a short list of matches leaves no gap.
        this.history = h('section', { class: 'history', 'aria-labelledby': 'history-title' }, h('h2', { id: 'history-title', class: 'section-title' }, 'Recent events'), this.strip);
        root.append(h('div', { class: 'page-head' }, h('div', {}, h('h1', { id: 'live-title' }, 'Live matches'), h('p', { class: 'lede' }, 'What devices and people are searching for, the moment it happens.')), this.status), this.current);
        // Relative times ("12 s ago") age while the page is open; this touches only the DOM, never the server.
        setInterval(() => this.refreshTimes(), 5000);
    }

    async enter() {
        if (!this.loaded) {
            this.loaded = true;
            show(this.current, h('div', { class: 'skeleton skeleton-event' }));
            try {
                const [latest, recent] = await Promise.all([api.latestMatch(), api.recentMatches(HISTORY_LIMIT).catch(() => null)]);
                for (const event of [...(recent?.events ?? [])].reverse()) this.add(event, false);
                if (latest) this.add(latest, false);
                this.render();
            } catch (error) {
                show(this.current, errorNotice(error, 'Could not load the latest match'));
            }
        }
        this.connect();
    }

    leave() {}

    connect() {
        if (this.stream || typeof EventSource === 'undefined') return;
        this.stream = new EventSource(streamURL);
        this.stream.addEventListener('open', () => this.setStatus('live', 'Live'));
        this.stream.addEventListener('error', () => this.setStatus('wait', 'Reconnecting…'));
        this.stream.addEventListener('match', (message) => {
            try {
                this.add(JSON.parse(message.data), true);
                this.render(true);
            } catch {
                // A malformed event is skipped; the next one still shows.
            }
        });
    }

    setStatus(kind, text) {
        this.status.className = `pill pill-${kind}`;
        this.status.textContent = text;
    }

    add(event, fresh) {
        if (!event?.event_id) return;
        this.events = [event, ...this.events.filter((known) => known.event_id !== event.event_id)].slice(0, HISTORY_LIMIT);
        if (fresh) event.fresh = true;
    }

    select(eventId) {
        this.pinned = eventId === this.events[0]?.event_id ? null : eventId;
        this.render();
    }

    render(animate = false) {
        const shown = this.events.find((event) => event.event_id === this.pinned) ?? this.events[0];
        if (!shown) {
            show(this.current, emptyState(icons.radar, 'No matches yet', 'Search from the Search page, or point a device at something: its matches appear here instantly.', h('a', { class: 'button', href: '#/search' }, 'Search by photo')));
        } else {
            const view = this.eventView(shown, shown === this.events[0]);
            view.append(this.history);
            if (animate && shown.fresh && !this.pinned) view.classList.add('arrived');
            show(this.current, view);
        }
        this.renderStrip(shown);
    }

    eventView(event, isLatest) {
        const source = event.source === 'device' ? (event.device ? `Device ${event.device}` : 'A device') : 'API search';
        const latency = event.latency_ms ?? event.timing?.total_ms;
        const query = event.query_image
            ? h('img', { src: event.query_image, alt: 'The query photo of this search', decoding: 'async' })
            : h('div', { class: 'query-placeholder' }, icon(event.source === 'device' ? icons.device : icons.image), h('span', {}, 'No query image kept'));
        return h(
            'article',
            { class: 'event', dataset: { eventId: event.event_id }, 'aria-label': `Match event ${event.event_id}` },
            h(
                'div',
                { class: 'event-query' },
                h('div', { class: 'media media-query' }, query),
                h(
                    'dl',
                    { class: 'facts' },
                    h('div', {}, h('dt', {}, 'Source'), h('dd', { class: 'event-source' }, source)),
                    h('div', {}, h('dt', {}, 'When'), h('dd', {}, h('time', { datetime: event.created_at, title: new Date(event.created_at).toLocaleString() }, formatTime(event.created_at)))),
                    h('div', {}, h('dt', {}, event.latency_ms != null ? 'Pipeline latency' : 'Search time'), h('dd', {}, formatMilliseconds(latency))),
                    event.timing ? h('div', { class: 'facts-stacked' }, h('dt', {}, 'Breakdown'), h('dd', { class: 'timing' }, timingParts(event.timing))) : null,
                ),
                isLatest ? null : h('button', { class: 'button button-quiet', type: 'button', onclick: () => this.select(this.events[0].event_id) }, 'Back to latest'),
            ),
            h('div', { class: 'event-matches' }, h('h2', { class: 'section-title' }, isLatest ? 'Top matches' : 'Top matches (earlier event)'), matchGrid(event.matches?.slice(0, 8), { large: true, size: 384, eager: true, label: 'Top matches', emptyTitle: 'No match', emptyText: 'Nothing in the catalogue was close enough to this query.' })),
        );
    }

    renderStrip(shown) {
        if (this.events.length < 2) {
            show(this.strip, h('li', { class: 'history-empty' }, 'Earlier events will line up here.'));
            return;
        }
        show(
            this.strip,
            this.events.map((event) => {
                const top = event.matches?.[0];
                const picture = event.query_image ?? (top ? thumbnailURL(top, 128) : null);
                return h(
                    'li',
                    {},
                    h(
                        'button',
                        { type: 'button', class: 'history-item', 'aria-pressed': String(event === shown), 'aria-label': `${top?.title ?? 'No match'}, ${formatTime(event.created_at)}`, onclick: () => this.select(event.event_id) },
                        picture ? h('img', { src: picture, alt: '', loading: 'lazy' }) : h('span', { class: 'history-blank' }, icon(icons.image)),
                        h('span', { class: 'history-caption' }, h('span', { class: 'history-title' }, top?.title ?? 'No match'), h('time', { datetime: event.created_at }, formatTime(event.created_at))),
                    ),
                );
            }),
        );
    }

    refreshTimes() {
        for (const time of this.root.querySelectorAll('time[datetime]')) time.textContent = formatTime(time.getAttribute('datetime'));
    }
}

/** The stages of a search as "decode 2.1 ms · features 9.8 ms · index 0.4 ms", each kept on one line. */
function timingParts(timing) {
    const parts = [['decode', timing.decode_ms], ['features', timing.featurize_ms], ['index', timing.search_ms]];
    return parts
        .filter(([, ms]) => Number.isFinite(ms))
        .flatMap(([name, ms], index) => [index ? ' · ' : '', h('span', {}, `${name} ${formatMilliseconds(ms)}`)]);
}
