"""Number formats that differ from Django's: Chinese business documents group digits by three with commas
(10,298,499 积分; ¥102,256.99), as shops' tills and banks print them, where Django's Chinese formats group by four
without a separator. Only what differs is set here; Django's own format modules give the rest."""
