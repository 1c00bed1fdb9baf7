//! What the browser test files share: mounting a fresh app into its own `<div>` at a URL
//! fragment, finding and clicking elements, typing into inputs, and reading the fragment back.

#![allow(dead_code, unreachable_pub)]

use std::rc::Rc;

use gloo_timers::future::TimeoutFuture;
use lbplay_web::app::{App, AppProps};
use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlElement};

pub fn document() -> web_sys::Document {
    web_sys::window().and_then(|window| window.document()).expect("a document")
}

/// Lets Yew render and run its effects.
pub async fn settle() {
    for _ in 0..3 {
        TimeoutFuture::new(10).await;
    }
}

pub struct Mounted {
    pub root: Element,
    handle: Option<yew::AppHandle<App>>,
}

impl Mounted {
    pub fn find(&self, selector: &str) -> Element {
        self.try_find(selector).unwrap_or_else(|| panic!("no element matches {selector}"))
    }

    pub fn try_find(&self, selector: &str) -> Option<Element> {
        self.root.query_selector(selector).ok().flatten()
    }

    pub fn count(&self, selector: &str) -> u32 {
        self.root.query_selector_all(selector).map(|list| list.length()).unwrap_or(0)
    }

    pub fn text(&self, selector: &str) -> String {
        self.find(selector).text_content().unwrap_or_default()
    }

    /// The text of every element `selector` matches, in document order.
    pub fn texts(&self, selector: &str) -> Vec<String> {
        let list = self.root.query_selector_all(selector).expect("a selector");
        (0..list.length()).filter_map(|index| list.item(index)).filter_map(|node| node.text_content()).collect()
    }

    /// The 1-based number of the selected step, from the event list.
    pub fn selected(&self) -> String {
        self.text(r#"[data-testid="step-list"] [aria-current="step"] td.num"#).trim().to_string()
    }

    pub fn click(&self, selector: &str) {
        self.find(selector).dyn_into::<HtmlElement>().expect("an HTML element").click();
    }

    /// What an input or a textarea holds now.
    pub fn value(&self, selector: &str) -> String {
        let element = self.find(selector);
        if let Some(input) = element.dyn_ref::<web_sys::HtmlInputElement>() {
            input.value()
        } else if let Some(area) = element.dyn_ref::<web_sys::HtmlTextAreaElement>() {
            area.value()
        } else {
            panic!("{selector} is not an input")
        }
    }

    /// Types `value` into an input or a textarea, as a learner's edit leaves it.
    pub fn set_value(&self, selector: &str, value: &str) {
        let element = self.find(selector);
        if let Some(input) = element.dyn_ref::<web_sys::HtmlInputElement>() {
            input.set_value(value);
        } else if let Some(area) = element.dyn_ref::<web_sys::HtmlTextAreaElement>() {
            area.set_value(value);
        } else {
            panic!("{selector} is not an input");
        }
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            handle.destroy();
        }
        self.root.remove();
    }
}

/// Mounts the app at `hash`, with `scenario` as its prop (`None`: the page's own loading).
pub async fn mount(hash: &str, scenario: Option<Rc<lbplay_web::run::Scenario>>) -> Mounted {
    let window = web_sys::window().expect("a window");
    if let Ok(Some(storage)) = window.local_storage() {
        let _ = storage.clear();
    }
    let history = window.history().expect("history");
    history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(hash)).expect("set the hash");
    let root = document().create_element("div").expect("a div");
    document().body().expect("a body").append_child(&root).expect("append");
    let handle = yew::Renderer::<App>::with_root_and_props(root.clone(), AppProps { scenario }).render();
    settle().await;
    Mounted { root, handle: Some(handle) }
}

/// The URL fragment, once the app has written it (it waits for the state to settle).
pub async fn hash() -> String {
    TimeoutFuture::new(lbplay_web::app::URL_DELAY_MS + 100).await;
    web_sys::window().and_then(|window| window.location().hash().ok()).unwrap_or_default()
}
