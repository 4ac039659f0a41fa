// Catalogue: pages of items, and one item with its attributes and visually similar items.

import { api, thumbnailURL } from './api.js';
import { h, icon, icons, thumbnail, matchGrid, emptyState, errorNotice, spinner, show } from './ui.js';

const PAGE_SIZE = 24;

export class CataloguePage {
    constructor(root) {
        this.root = root;
        this.summary = h('p', { class: 'lede', id: 'catalogue-summary' }, 'Every item vsearch can find.');
        this.body = h('div', { class: 'catalogue-body', 'aria-live': 'polite' });
        root.append(h('div', { class: 'page-head' }, h('div', {}, h('h1', { id: 'catalogue-title' }, 'Catalogue'), this.summary)), this.body);
    }

    async enter(parameters) {
        const page = Math.max(1, Number.parseInt(parameters[0] ?? '1', 10) || 1);
        show(this.body, spinner('Loading items'));
        try {
            const answer = await api.items((page - 1) * PAGE_SIZE, PAGE_SIZE);
            const pages = Math.max(1, Math.ceil(answer.total / PAGE_SIZE));
            this.summary.textContent = `${answer.total.toLocaleString()} item${answer.total === 1 ? '' : 's'} · page ${page} of ${pages}`;
            if (!answer.items.length) {
                show(this.body, answer.total ? emptyState(icons.grid, 'No items on this page', `The catalogue has ${pages} page${pages === 1 ? '' : 's'}.`, h('a', { class: 'button', href: '#/catalogue' }, 'First page')) : emptyState(icons.grid, 'The catalogue is empty', 'Add items with vsearch ingest, or POST /api/v1/items, then come back.'));
                return;
            }
            show(this.body, h('ul', { class: 'grid', id: 'catalogue-grid', 'aria-label': `Items, page ${page}` }, answer.items.map(itemCard)), pager(page, pages));
        } catch (error) {
            show(this.body, errorNotice(error, 'Could not load the catalogue'));
        }
    }

    leave() {}
}

function itemCard(item) {
    return h(
        'li',
        { class: 'card', dataset: { id: item.id } },
        h(
            'a',
            { class: 'card-link', href: `#/item/${encodeURIComponent(item.id)}` },
            h('div', { class: 'media' }, thumbnail(item, 256), item.state === 'pending' ? h('span', { class: 'badge' }, 'pending') : null),
            h('div', { class: 'card-body' }, h('span', { class: 'card-title' }, item.title || `Item ${item.id}`), h('span', { class: 'card-meta' }, `#${item.id}`)),
        ),
    );
}

function pager(page, pages) {
    if (pages <= 1) return null;
    const link = (target, label, content) => (target < 1 || target > pages ? h('span', { class: 'button button-quiet', 'aria-disabled': 'true' }, content) : h('a', { class: 'button button-quiet', href: `#/catalogue/${target}`, 'aria-label': label }, content));
    return h(
        'nav',
        { class: 'pager', 'aria-label': 'Pages' },
        link(page - 1, 'Previous page', [icon(icons.left), h('span', {}, 'Previous')]),
        h('span', { class: 'pager-position' }, `${page} / ${pages}`),
        link(page + 1, 'Next page', [h('span', {}, 'Next'), icon(icons.right)]),
    );
}

export class ItemPage {
    constructor(root) {
        this.root = root;
        this.body = h('div', { class: 'item-body' });
        root.append(h('a', { class: 'back-link', href: '#/catalogue' }, icon(icons.back), 'Catalogue'), this.body);
    }

    async enter(parameters) {
        const id = decodeURIComponent(parameters.join('/'));
        show(this.body, spinner('Loading the item'));
        let item;
        try {
            item = await api.item(id);
        } catch (error) {
            show(this.body, h('h1', { id: 'item-title', class: 'visually-hidden' }, 'Item'), errorNotice(error, error.status === 404 ? 'No such item' : 'Could not load the item'));
            return;
        }
        const similar = h('div', { class: 'similar', id: 'item-similar', 'aria-live': 'polite' }, spinner('Finding similar items'));
        show(this.body, itemDetail(item), h('section', { 'aria-labelledby': 'similar-title' }, h('h2', { id: 'similar-title', class: 'section-title' }, 'Visually similar'), similar));
        try {
            const answer = await api.similar(id, 8);
            show(similar, matchGrid(answer.matches, { label: 'Visually similar items', emptyTitle: 'Nothing similar', emptyText: 'This item has no close neighbours in the catalogue yet.' }));
        } catch (error) {
            show(similar, errorNotice(error, 'Could not find similar items'));
        }
    }

    leave() {}
}

function itemDetail(item) {
    const attributes = Object.entries(item.attributes ?? {});
    const facts = [
        ['Id', item.id],
        ...attributes.map(([key, value]) => [key, typeof value === 'string' ? value : JSON.stringify(value)]),
        item.model ? ['Model', item.model] : null,
        item.state ? ['State', item.state] : null,
        item.updated_at ? ['Updated', new Date(item.updated_at).toLocaleString()] : null,
    ].filter(Boolean);
    return h(
        'article',
        { class: 'item', dataset: { id: item.id } },
        h('a', { class: 'media media-hero', href: thumbnailURL(item, 1024), target: '_blank', rel: 'noopener', 'aria-label': `Open the full-size picture of ${item.title || `item ${item.id}`}` }, thumbnail(item, 768, { eager: true })),
        h(
            'div',
            { class: 'item-info' },
            h('h1', { id: 'item-title' }, item.title || `Item ${item.id}`),
            /^https?:\/\//i.test(item.url ?? '') ? h('a', { class: 'item-url', href: item.url, target: '_blank', rel: 'noopener noreferrer' }, icon(icons.external), new URL(item.url).host) : null,
            h('dl', { class: 'facts facts-item' }, facts.map(([key, value]) => h('div', {}, h('dt', {}, key), h('dd', {}, String(value))))),
        ),
    );
}
