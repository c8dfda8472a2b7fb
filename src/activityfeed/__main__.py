from activityfeed.entry import main

main()
