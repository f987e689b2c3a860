//! Keys to actions. What a key means depends on the mode: while typing a filter, letters are
//! text, not commands.

use crate::app::Mode;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Quit,
    Help,
    /// Esc: close what is open (help, chooser, full-screen table), else clear the filter.
    Back,
    NextView,
    PrevView,
    GoView(usize),
    Up,
    Down,
    PageUp,
    PageDown,
    /// Enter: open the focused table full screen, or take the chooser's entry.
    Open,
    Pause,
    StartFilter,
    FilterChar(char),
    FilterBackspace,
    FilterDone,
    ChooseWindow,
    /// `a`: a hub's agent chooser.
    ChooseAgent,
}

pub fn action(key: KeyEvent, mode: Mode) -> Option<Action> {
    // Raw mode turns Ctrl-C into a key: it always quits.
    if key.modifiers.contains(KeyModifiers::CONTROL) {
        return matches!(key.code, KeyCode::Char('c')).then_some(Action::Quit);
    }
    if mode == Mode::Filter {
        return match key.code {
            KeyCode::Char(c) => Some(Action::FilterChar(c)),
            KeyCode::Backspace => Some(Action::FilterBackspace),
            KeyCode::Enter => Some(Action::FilterDone),
            KeyCode::Esc => Some(Action::Back),
            _ => None,
        };
    }
    Some(match key.code {
        KeyCode::Char('q') => Action::Quit,
        KeyCode::Char('?') => Action::Help,
        KeyCode::Esc => Action::Back,
        KeyCode::Tab => Action::NextView,
        KeyCode::BackTab => Action::PrevView,
        KeyCode::Char(c @ '1'..='9') => Action::GoView(c as usize - '1' as usize),
        KeyCode::Up | KeyCode::Left | KeyCode::Char('k') => Action::Up,
        KeyCode::Down | KeyCode::Right | KeyCode::Char('j') => Action::Down,
        KeyCode::PageUp => Action::PageUp,
        KeyCode::PageDown => Action::PageDown,
        KeyCode::Enter => Action::Open,
        KeyCode::Char('p') => Action::Pause,
        KeyCode::Char('/') => Action::StartFilter,
        KeyCode::Char('w') => Action::ChooseWindow,
        KeyCode::Char('a') => Action::ChooseAgent,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn letters_are_text_while_filtering() {
        assert_eq!(
            action(key(KeyCode::Char('q')), Mode::Normal),
            Some(Action::Quit)
        );
        assert_eq!(
            action(key(KeyCode::Char('q')), Mode::Filter),
            Some(Action::FilterChar('q'))
        );
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(action(ctrl_c, Mode::Filter), Some(Action::Quit));
        assert_eq!(
            action(key(KeyCode::Char('2')), Mode::Normal),
            Some(Action::GoView(1))
        );
        assert_eq!(action(key(KeyCode::Char('x')), Mode::Normal), None);
    }
}
