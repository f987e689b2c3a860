//! Pieces the views share: the header blocks, top-N tables, the grid that lays them out, the
//! rate sparklines and the bars at the top and bottom of the screen.

pub mod bars;
pub mod header;
pub mod rates;
pub mod table_grid;
pub mod top_table;
