// The web UI's entry point: hash routing between the pages, and the server's health in the header.
// Routes: #/live, #/search, #/catalogue[/PAGE], #/item/ID.

import { api } from './api.js';
import { LivePage } from './live.js';
import { SearchPage } from './search.js';
import { CataloguePage, ItemPage } from './catalogue.js';

const views = {
    live: { section: 'view-live', Page: LivePage, title: 'Live' },
    search: { section: 'view-search', Page: SearchPage, title: 'Search' },
    catalogue: { section: 'view-catalogue', Page: CataloguePage, title: 'Catalogue' },
    item: { section: 'view-item', Page: ItemPage, title: 'Item', tab: 'catalogue' },
};
const pages = new Map(); // route → page, created on first visit so each page keeps its state
let current = null;

function route() {
    const [name, ...parameters] = location.hash.replace(/^#\/?/, '').split('/');
    const key = views[name] ? name : 'live';
    const view = views[key];
    if (current && current !== key) pages.get(current)?.leave();
    for (const [other, { section }] of Object.entries(views)) document.getElementById(section).hidden = other !== key;
    if (!pages.has(key)) pages.set(key, new view.Page(document.getElementById(view.section)));
    for (const tab of document.querySelectorAll('[data-route]')) {
        if (tab.dataset.route === (view.tab ?? key)) tab.setAttribute('aria-current', 'page');
        else tab.removeAttribute('aria-current');
    }
    document.title = `${view.title} · vsearch`;
    const changedPage = current !== key;
    current = key;
    pages.get(key).enter(parameters);
    // Move focus to the content for keyboard and screen-reader users, but not on the first load.
    if (changedPage && document.readyState === 'complete') document.getElementById('main').focus({ preventScroll: true });
    if (changedPage) window.scrollTo({ top: 0 });
}

async function showHealth() {
    const health = document.getElementById('health');
    try {
        const status = await api.health();
        health.textContent = `${Number(status.items).toLocaleString()} items · ${status.model}`;
        health.classList.remove('health-down');
    } catch {
        health.textContent = 'Server unreachable';
        health.classList.add('health-down');
    }
}

// A pasted image is a search from any page: the Search page opens with it.
document.addEventListener('paste', (event) => {
    const file = [...(event.clipboardData?.files ?? [])].find((candidate) => candidate.type.startsWith('image/'));
    if (!file) return;
    event.preventDefault();
    if (current !== 'search') {
        history.pushState(null, '', '#/search');
        route();
    }
    pages.get('search').searchBlob(file);
});

window.addEventListener('hashchange', route);
route();
showHealth();
